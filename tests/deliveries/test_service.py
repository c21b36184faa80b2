"""`first_sighting` is true once per key and TTL, on SQLite and PostgreSQL; old rows are pruned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.db import transaction
from bot.deliveries.models import KEY_LENGTH, DeliverySeen
from bot.deliveries.service import delivery_key, first_sighting, prune
from bot.store import Store, open_store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TTL = timedelta(hours=1)


def _sight(store: Store, key: str, now: datetime = NOW) -> bool:
    with transaction(store.sessions) as session:
        return first_sighting(session=session, key=key, now=now, ttl=TTL)


def test_a_key_is_first_seen_once(store: Store) -> None:
    assert _sight(store, "event:Ev1")
    assert not _sight(store, "event:Ev1")
    assert _sight(store, "event:Ev2")
    assert not _sight(store, "event:Ev1", NOW + timedelta(minutes=59))


def test_a_key_past_its_ttl_is_new_again_even_before_the_prune(store: Store) -> None:
    assert _sight(store, "event:Ev1")
    later = NOW + TTL
    assert _sight(store, "event:Ev1", later)
    assert not _sight(store, "event:Ev1", later)  # the takeover restarted its TTL


def test_prune_forgets_rows_older_than_the_cutoff(store: Store) -> None:
    _sight(store, "event:old", NOW - 2 * TTL)
    _sight(store, "event:new", NOW)
    with transaction(store.sessions) as session:
        assert prune(session=session, older_than=NOW - TTL) == 1
    with store.sessions() as session:
        keys = session.scalars(select(DeliverySeen.key)).all()
    assert keys == ["event:new"]


def test_long_keys_are_replaced_by_a_digest_that_fits() -> None:
    short = delivery_key("action", "U1", "approve", "1.0")
    assert short == "action:U1:approve:1.0"
    long = delivery_key("action", "U1", "x" * 300, "1.0")
    assert len(long) <= KEY_LENGTH and long.startswith("action:sha256:")
    assert long == delivery_key("action", "U1", "x" * 300, "1.0")
    assert long != delivery_key("action", "U1", "x" * 300, "2.0")


def test_two_replicas_racing_on_one_key_let_exactly_one_win(store: Store) -> None:
    """Each "replica" has its own engine on the same database, as two processes would."""
    url = store.engine.url.render_as_string(hide_password=False)
    from bot.settings import Settings

    replicas = [open_store(Settings(database_url=url), migrate=False) for _ in range(4)]
    start = threading.Barrier(len(replicas))
    wins: list[bool] = []
    lock = threading.Lock()

    def race(replica: Store) -> None:
        start.wait()
        won = _sight(replica, "event:EvRace")
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=race, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for replica in replicas:
        replica.close()
    assert sorted(wins) == [False, False, False, True]
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DeliverySeen)) == 1
