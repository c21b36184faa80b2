"""Exactly once: concurrent approvals, crashes and resumes, the builtin backend's endpoint."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.activity.service import entries
from bot.app import create_app
from bot.rollouts.backends import Change
from bot.rollouts.backends.builtin import BuiltinBackend
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.models import CohortAssignment
from bot.rollouts.notify import LogRollbackNotifier
from bot.rollouts.requests import RollbackRefused, RollbackView
from bot.sandbox.server import serve_in_thread
from bot.settings import Settings
from bot.store import Store
from tests.rollouts.conftest import BAD, COHORT, DRI, DRI2, GOOD, NOW, REQUESTER


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


class Crash(BaseException):
    """The process dies (not an error anything catches)."""


@dataclass
class CrashingBackend:
    """Applies through the builtin backend, then dies before tierbot records it."""

    inner: BuiltinBackend
    applied: list[Change] = field(default_factory=list)
    name: str = "crashing"

    def apply(self, change: Change) -> str:
        self.applied.append(change)
        self.inner.apply(change)
        raise Crash


def _flow(store: Store, settings: Settings, clock: Clock, **kw: object) -> RollbackFlow:
    return RollbackFlow(store, settings, LogRollbackNotifier(), clock=clock, **kw)  # type: ignore[arg-type]


def _written(store: Store) -> list[CohortAssignment]:
    with store.sessions() as session:
        return list(
            session.scalars(
                select(CohortAssignment).where(CohortAssignment.source.startswith("tierbot:"))
            )
        )


def _open(flow: RollbackFlow, percent: int | None = None) -> RollbackView:
    return flow.request(
        cohort=COHORT, target=None, percent=percent, reason="int8 crashes", requester=REQUESTER
    )


def test_fifty_concurrent_approvals_execute_one_rollback(
    seeded: Store, rb_settings: Settings
) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    flow = _flow(seeded, rb_settings, clock)
    request = _open(flow)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []

    def click(user: str) -> None:
        barrier.wait()
        try:
            outcomes.append(flow.approve(request.id, user).state)
        except RollbackRefused as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=click, args=(DRI if i % 2 else DRI2,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("executed") == 1
    refused = [o for o in outcomes if o != "executed"]
    assert len(refused) == 49
    assert all(o.startswith(f"request #{request.id} was already ") for o in refused), refused
    [row] = _written(seeded)
    assert (row.model_id, row.rollout_percent, row.config_hash) == (GOOD, 100.0, "cfg-good")
    with seeded.sessions() as session:
        kinds = [e.kind for e in entries(session=session, kind_prefix="rollback.")]
    assert kinds == [
        "rollback.requested",
        "rollback.approved",
        "rollback.executing",
        "rollback.executed",
    ]


def test_a_crash_after_approval_is_executed_by_the_sweep(
    seeded: Store, rb_settings: Settings
) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    flow = _flow(seeded, rb_settings, clock)
    request = _open(flow)
    flow.approve(request.id, DRI, execute=False)  # ... and the process dies here

    restarted = _flow(seeded, rb_settings, clock)
    restarted.sweep()
    restarted.sweep()

    assert restarted.get(request.id).state == "executed"
    assert len(_written(seeded)) == 1


def test_a_crash_mid_execution_is_retried_after_the_lease_with_the_same_key(
    seeded: Store, rb_settings: Settings
) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    crashing = CrashingBackend(BuiltinBackend(seeded))
    flow = _flow(seeded, rb_settings, clock, backend=crashing)
    request = _open(flow)
    with pytest.raises(Crash):
        flow.approve(request.id, DRI)
    assert flow.get(request.id).state == "executing"

    restarted = _flow(seeded, rb_settings, clock)
    restarted.sweep()  # within the lease: the first attempt may still be running
    assert restarted.get(request.id).state == "executing"
    clock.now += timedelta(seconds=rb_settings.rollouts.execution_lease_seconds + 1)
    restarted.sweep()

    view = restarted.get(request.id)
    assert (view.state, view.attempts) == ("executed", 2)
    assert len(_written(seeded)) == 1  # applied twice with one key: written once
    with seeded.sessions() as session:
        executing = entries(session=session, kinds=["rollback.executing"])
        [executed] = entries(session=session, kinds=["rollback.executed"])
    assert [e.data["idempotency_key"] for e in executing] == [
        crashing.applied[0].idempotency_key
    ] * 2
    assert "already written" in executed.data["reference"]


def test_a_staged_rollback_steps_up_to_100_percent(seeded: Store, rb_settings: Settings) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    flow = _flow(seeded, rb_settings, clock)
    request = _open(flow, percent=50)
    assert flow.approve(request.id, DRI).applied_percent == 50
    with pytest.raises(RollbackRefused, match="already has an open"):
        _open(flow)
    interval = timedelta(seconds=rb_settings.rollouts.stage_interval_seconds)
    for expected in (75, 100):
        flow.sweep()  # not yet due
        assert flow.get(request.id).applied_percent == expected - 25
        clock.now += interval
        flow.sweep()
        assert flow.get(request.id).applied_percent == expected
    assert [r.rollout_percent for r in _written(seeded)] == [50.0, 75.0, 100.0]
    assert not flow.get(request.id).is_open


def test_the_builtin_config_endpoint_serves_the_rolled_back_build(
    seeded: Store, rb_settings: Settings
) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    flow = _flow(seeded, rb_settings, clock)
    app = create_app(rb_settings, seeded, run_scheduler=False, slack_transport="off")
    with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
        before = client.get(f"/api/v1/cohorts/{COHORT}/config")
        assert before.json()["tiers"]["edge"]["model_id"] == BAD
        assert (
            client.get(
                f"/api/v1/cohorts/{COHORT}/config",
                headers={"If-None-Match": before.headers["etag"]},
            ).status_code
            == 304
        )
        flow.approve(_open(flow).id, DRI)
        after = client.get(f"/api/v1/cohorts/{COHORT}/config")
        assert client.get("/api/v1/cohorts/nope/config").status_code == 404
    edge = after.json()["tiers"]["edge"]
    assert (edge["model_id"], edge["rollout_percent"], edge["config_hash"]) == (
        GOOD,
        100.0,
        "cfg-good",
    )
    assert edge["quantization"] == "fp16" and after.headers["etag"] != before.headers["etag"]
    assert after.json()["tiers"]["cloud"]["model_id"] == "cloud-llm-7"


def test_the_killswitch_moves_every_cohort_on_the_build(
    seeded: Store, rb_settings: Settings
) -> None:
    clock = Clock(NOW + timedelta(minutes=2))
    flow = _flow(seeded, rb_settings, clock)
    pending = _open(flow)
    with pytest.raises(RollbackRefused, match="only a DRI"):
        flow.killswitch(BAD, REQUESTER, "crash loop")
    pulled = flow.killswitch(BAD, DRI, "crash loop")
    assert [(r.cohort, r.state, r.kind) for r in pulled.requests] == [
        (COHORT, "executed", "killswitch"),
        ("us-ios-beta", "executed", "killswitch"),
    ]
    assert flow.get(pending.id).state == "rejected"
    assert sorted(r.cohort for r in _written(seeded)) == [COHORT, "us-ios-beta"]
    with seeded.sessions() as session:
        kinds = {e.kind for e in entries(session=session, kind_prefix="killswitch.")}
    assert kinds == {
        "killswitch.requested",
        "killswitch.approved",
        "killswitch.executing",
        "killswitch.executed",
    }
    with pytest.raises(RollbackRefused, match=f"no cohort runs {BAD}"):
        flow.killswitch(BAD, DRI, "again")


def _change_for_tests() -> Change:
    return Change(
        1,
        "rollback",
        COHORT,
        "edge",
        BAD,
        GOOD,
        100,
        None,
        "r",
        REQUESTER,
        DRI,
        "tierbot-test",
        NOW,
    )
