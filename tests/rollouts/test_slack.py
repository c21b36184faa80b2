"""The rollback story in Slack, through the real bolt app over HTTP and the sandbox workspace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.activity.service import entries
from bot.console.slack_session import SlackSession
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.requests import list_requests
from bot.rollouts.settings import DriSet
from bot.sandbox.dri import approval_message_in, approve_in_slack
from bot.sandbox.slack_models import (
    ALERTS_CHANNEL_ID,
    DRI_USER_ID,
    ONCALL_CHANNEL_ID,
    RESPONDER_USER_ID,
)
from bot.settings import Settings
from bot.slack.rollbacks import SlackRollbackNotifier
from bot.slack.views.rollbacks import (
    APPROVE_ACTION,
    KILLSWITCH_ACTION,
    REASON_ACTION,
    REJECT_ACTION,
)
from bot.store import Store
from tests.rollouts.conftest import BAD, COHORT, GOOD, NOW, rollout_settings

DM = "D" + DRI_USER_ID[1:]
NOW_ISH = NOW + timedelta(minutes=2)


@pytest.fixture
def session(seeded: Store, settings: Settings) -> Iterator[SlackSession]:
    wired = settings.model_copy(
        update={
            "rollouts": rollout_settings(
                dris=DriSet(users=[DRI_USER_ID]), dri_channel=ALERTS_CHANNEL_ID
            )
        }
    )
    with SlackSession.start(wired, seeded, clock=lambda: NOW_ISH) as started:
        yield started


def _request(session: SlackSession) -> int:
    session.command(f"rollback {COHORT} int8 OOMs on lowram phones")
    confirmation = session.slack.wait_for_message(
        ONCALL_CHANNEL_ID, where=lambda m: m.text.startswith("Rollback #"), timeout=20
    )
    return int(confirmation.text.split("#")[1].split()[0])


def _flow(session: SlackSession, store: Store, settings: Settings) -> RollbackFlow:
    return RollbackFlow(
        store,
        settings,
        SlackRollbackNotifier(session.slack.web_client(), settings.rollouts),
        clock=lambda: NOW_ISH,
    )


def test_a_request_asks_the_dris_in_their_channel_and_by_dm(session: SlackSession) -> None:
    request_id = _request(session)

    posted = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)
    dm = session.slack.wait_for_message(DM, timeout=20)
    for message in (posted, dm):
        text = str(message.blocks)
        assert f"`{BAD}`" in text and f"`{GOOD}`" in text and "int8 OOMs" in text
        assert "Which tier failed" in text and "Probes" in text
        buttons = next(b for b in message.blocks if b["type"] == "actions")["elements"]
        assert [b["action_id"] for b in buttons] == [APPROVE_ACTION, REJECT_ACTION]
        assert all("confirm" in b for b in buttons)
    assert session.slack.calls("conversations.open")[0].args["users"] == DRI_USER_ID


def test_a_non_dri_click_is_refused_ephemerally_and_changes_nothing(
    session: SlackSession, seeded: Store
) -> None:
    request_id = _request(session)
    message = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)

    session.driver.click(message, APPROVE_ACTION, user=RESPONDER_USER_ID)

    refusal = session.slack.wait_for_response(where=lambda r: "only the DRIs" in r.text, timeout=20)
    assert refusal.response_type == "ephemeral" and not refusal.replace_original
    with seeded.sessions() as db:
        assert [r.state for r in list_requests(session=db)] == ["requested"]


def test_the_requester_cannot_approve_their_own_request(session: SlackSession) -> None:
    request_id = _request(session)  # typed by the on-call engineer
    message = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)
    session.driver.click(message, APPROVE_ACTION, user=session.user)
    session.slack.wait_for_response(where=lambda r: "four eyes" in r.text, timeout=20)


def test_the_dri_approves_with_the_button_and_the_rollback_executes_and_verifies(
    session: SlackSession, seeded: Store, settings: Settings
) -> None:
    request_id = _request(session)
    wired = settings.model_copy(
        update={"rollouts": rollout_settings(dri_channel=ALERTS_CHANNEL_ID)}
    )

    view = approve_in_slack(
        slack=session.slack,
        driver=session.driver,
        flow=_flow(session, seeded, wired),
        request_id=request_id,
        approver=DRI_USER_ID,
        channel=ALERTS_CHANNEL_ID,
    )

    assert (view.state, view.decided_by, view.applied_percent) == ("executed", DRI_USER_ID, 100)
    assert view.verified is False  # no traffic in this store since the rollback: cannot tell
    updated = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)
    assert "actions" not in [b["type"] for b in updated.blocks]
    thread = [
        m.text for m in session.slack.messages(ALERTS_CHANNEL_ID) if m.thread_ts == updated.ts
    ]
    assert any("Approved by" in t for t in thread) and any("Executed" in t for t in thread)
    assert any("NOT recovered" in t for t in thread)
    dm = session.slack.wait_for_message(DM, timeout=5)
    assert "executed" in session.slack.message(DM, dm.ts).text
    with seeded.sessions() as db:
        kinds = [e.kind for e in entries(session=db, kind_prefix="rollback.")]
    assert kinds[:4] == [
        "rollback.requested",
        "rollback.approved",
        "rollback.executing",
        "rollback.executed",
    ]
    assert "rollback.verified" in kinds


def test_reject_asks_for_a_reason_in_a_modal(session: SlackSession, seeded: Store) -> None:
    request_id = _request(session)
    message = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)

    session.driver.click(message, REJECT_ACTION, user=DRI_USER_ID)
    modal = session.slack.wait_for_view(timeout=20)
    session.driver.submit_view(modal, {REASON_ACTION: "the network, not the build"})

    def rejected() -> str | None:
        with seeded.sessions() as db:
            [request] = list_requests(session=db)
        return request.decision_reason if request.state == "rejected" else None

    assert session.slack.wait_for(rejected, timeout=20, what="rejection") == (
        "the network, not the build"
    )


def test_the_sweep_expires_an_undecided_request_and_says_so_in_its_thread(
    session: SlackSession, seeded: Store, settings: Settings
) -> None:
    request_id = _request(session)
    wired = settings.model_copy(
        update={"rollouts": rollout_settings(dri_channel=ALERTS_CHANNEL_ID)}
    )
    flow = _flow(session, seeded, wired)
    flow.clock = lambda: NOW_ISH + timedelta(minutes=31)

    flow.sweep()

    message = approval_message_in(session.slack, request_id, ALERTS_CHANNEL_ID)
    assert "actions" not in [b["type"] for b in message.blocks] and "expired" in message.text
    thread = [
        m.text for m in session.slack.messages(ALERTS_CHANNEL_ID) if m.thread_ts == message.ts
    ]
    assert any("Expired" in t for t in thread)


def test_the_killswitch_is_dri_only_and_confirmed_first(
    session: SlackSession, seeded: Store
) -> None:
    refused = session.command(f"killswitch {BAD} crash loop")  # the on-call engineer: no DRI
    assert any("only the DRIs" in str(e) for e in refused.ephemeral)

    session.user = DRI_USER_ID
    asked = session.command(f"killswitch {BAD} crash loop")
    [confirm] = [r for r in session.slack.responses() if "Killswitch on" in r.text]
    assert "2 cohort(s)" in confirm.text and not asked.messages
    with seeded.sessions() as db:
        assert list_requests(session=db) == []  # nothing moves before the confirmation

    [ephemeral] = [
        m for m in session.slack.messages(ONCALL_CHANNEL_ID) if m.text.startswith("Killswitch on")
    ]
    session.driver.click(ephemeral, KILLSWITCH_ACTION, user=DRI_USER_ID)

    done = session.slack.wait_for_message(
        ALERTS_CHANNEL_ID, where=lambda m: m.text.startswith("Killswitch on"), timeout=30
    )
    assert "2 cohort(s) moved back" in done.text and "skipped" not in str(done.blocks)
    with seeded.sessions() as db:
        moved = list_requests(session=db)
        kinds = {e.kind for e in entries(session=db, kind_prefix="killswitch.")}
    assert sorted((r.cohort, r.kind, r.state, r.decided_by) for r in moved) == [
        (COHORT, "killswitch", "executed", DRI_USER_ID),
        ("us-ios-beta", "killswitch", "executed", DRI_USER_ID),
    ]
    assert {"killswitch.requested", "killswitch.approved", "killswitch.executed"} <= kinds
