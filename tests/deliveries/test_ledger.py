"""What the middleware dedupes on, and how the ledger behaves without (or with a broken) store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.db import make_engine, make_session_factory
from bot.deliveries.models import DeliverySeen
from bot.slack.middleware import DeliveryLedger, dedupe_key
from bot.store import Store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _click(action_ts: str, user: str = "U1") -> dict[str, object]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": "rollback_approve", "action_ts": action_ts}],
    }


def test_events_are_keyed_on_event_id_and_clicks_on_user_action_and_action_ts() -> None:
    assert dedupe_key({"type": "event_callback", "event_id": "Ev1"}) == ("event", "event:Ev1")
    assert dedupe_key(_click("1.5")) == ("action", "action:U1:rollback_approve:1.5")
    assert dedupe_key(_click("1.5")) != dedupe_key(_click("1.6"))  # a second click is new
    assert dedupe_key(_click("1.5")) != dedupe_key(_click("1.5", user="U2"))


def test_commands_and_modal_submissions_are_not_deduped() -> None:
    assert dedupe_key({"command": "/tier", "text": "status"}) is None
    assert dedupe_key({"type": "view_submission", "view": {"id": "V1"}}) is None
    assert dedupe_key({"type": "block_actions", "actions": []}) is None
    assert dedupe_key("not a dict") is None


def test_without_a_store_the_memory_alone_decides() -> None:
    ledger = DeliveryLedger(None)
    assert ledger.first_time("event:Ev1")
    assert not ledger.first_time("event:Ev1")


def test_the_ledger_records_in_the_store_and_prunes_rows_past_the_ttl(store: Store) -> None:
    now = [NOW - timedelta(hours=2)]
    ledger = DeliveryLedger(store, clock=lambda: now[0], prune_every=timedelta(minutes=15))
    assert ledger.first_time("event:old")
    now[0] = NOW
    fresh = DeliveryLedger(store, clock=lambda: now[0])  # another replica: empty memory
    assert fresh.first_time("event:new")
    with store.sessions() as session:
        assert session.scalars(select(DeliverySeen.key)).all() == ["event:new"]


def test_an_unreachable_store_does_not_lose_the_delivery(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'tierbot.db'}")
    broken = Store(engine=engine, sessions=make_session_factory(engine))
    assert DeliveryLedger(broken).first_time("event:Ev1")
