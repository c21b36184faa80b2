"""Verification: after the rollback the cohort's traffic recovers, and tierbot says so."""

from __future__ import annotations

from datetime import timedelta

from bot.activity.service import entries
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.notify import LogRollbackNotifier
from bot.sandbox.scenarios import SCENARIOS
from bot.sandbox.traffic import EDGE, Rollout, Simulator
from bot.settings import Settings
from bot.store import Store
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events, records_from_values
from tests.diagnosis.conftest import END
from tests.rollouts.conftest import DRI, REQUESTER, rollout_settings

COHORT, BAD = "eu-android-stable", "router-3.2-int8"


def _load(store: Store, *, rolled_back: bool) -> str:
    """int8_oom_lowram, 20 more minutes of traffic; clients pick the rollback up a minute late."""
    sim = SCENARIOS["int8_oom_lowram"](
        seed=3, end=END, rate_per_minute=120, baseline=timedelta(hours=2)
    )
    previous = sim.population.cohorts[COHORT].edge_build
    back = [Rollout(END + timedelta(minutes=1), COHORT, EDGE, previous)] if rolled_back else []
    longer = Simulator(
        sim.population,
        seed=3,
        start=sim.start,
        end=END + timedelta(minutes=20),
        rate_per_minute=120,
        faults=sim.faults,
        rollouts=[*sim.rollouts, *back],
    )
    ingest_cohort_assignments(store.engine, records_from_values(longer.assignments()), source="sim")
    ingest_events(store.engine, records_from_values(longer.events()), source="sim")
    return previous


def _flow(store: Store, settings: Settings) -> RollbackFlow:
    wired = settings.model_copy(update={"rollouts": rollout_settings()})
    return RollbackFlow(store, wired, LogRollbackNotifier(), clock=lambda: END)


def _verify(store: Store, settings: Settings) -> RollbackFlow:
    flow = _flow(store, settings)
    request = flow.request(
        cohort=COHORT, target=None, percent=None, reason="lowram OOMs", requester=REQUESTER
    )
    assert flow.approve(request.id, DRI).state == "executed"
    flow.clock = lambda: END + timedelta(minutes=16)
    flow.sweep()  # the verification delay (5 min) has passed: the sweep verifies
    return flow


def test_the_cohort_recovers_after_the_rollback(store: Store, settings: Settings) -> None:
    previous = _load(store, rolled_back=True)
    flow = _verify(store, settings)

    [request] = [flow.get(1)]
    assert (request.target_model_id, request.verified) == (previous, True)
    with store.sessions() as session:
        [verified] = entries(session=session, kinds=["rollback.verified"])
    assert verified.data["phase"] == "which_tier" and verified.data["recovered"] is True
    before, after = verified.data["before"], verified.data["after"]
    assert after["requests"] > 50 and after["error_rate"] < 0.01 < before["error_rate"]
    notices = flow.notifier.notices  # type: ignore[attr-defined]
    assert "Recovered: cohort eu-android-stable edge error rate" in notices[-1].text


def test_a_cohort_still_failing_is_reported_not_recovered(store: Store, settings: Settings) -> None:
    _load(store, rolled_back=False)  # the clients never picked the rollback up
    flow = _verify(store, settings)
    assert flow.get(1).verified is False
    assert "NOT recovered" in flow.notifier.notices[-1].text  # type: ignore[attr-defined]
    flow.sweep()
    assert len(flow.notifier.notices) == 4  # type: ignore[attr-defined]  (verified once)


def test_the_demo_story_in_slack_ends_with_the_cohort_recovered(
    store: Store, settings: Settings
) -> None:
    """The on-call engineer asks, the DRI approves with the button, the error rate recovers."""
    from bot.console.slack_session import SlackSession
    from bot.rollouts.settings import DriSet
    from bot.sandbox.dri import approve_in_slack
    from bot.sandbox.slack_models import ALERTS_CHANNEL_ID, DRI_USER_ID, ONCALL_CHANNEL_ID
    from bot.slack.rollbacks import SlackRollbackNotifier

    previous = _load(store, rolled_back=True)
    rollouts = rollout_settings(dris=DriSet(users=[DRI_USER_ID]), dri_channel=ALERTS_CHANNEL_ID)
    wired = settings.model_copy(update={"rollouts": rollouts})
    with SlackSession.start(wired, store, clock=lambda: END) as session:
        session.command(f"rollback {COHORT} lowram phones OOM on the int8 build")
        session.slack.wait_for_message(
            ONCALL_CHANNEL_ID, where=lambda m: m.text.startswith("Rollback #1"), timeout=30
        )
        flow = RollbackFlow(
            store,
            wired,
            SlackRollbackNotifier(session.slack.web_client(), rollouts),
            clock=lambda: END,
        )
        view = approve_in_slack(
            slack=session.slack,
            driver=session.driver,
            flow=flow,
            request_id=1,
            approver=DRI_USER_ID,
            verify_at=lambda: END + timedelta(minutes=16),
        )
        thread = [m.text for m in session.slack.messages(ALERTS_CHANNEL_ID) if m.thread_ts]
    assert (view.state, view.target_model_id, view.verified) == ("executed", previous, True)
    assert any(
        t.startswith("#1: Recovered: cohort eu-android-stable edge error rate") for t in thread
    )
