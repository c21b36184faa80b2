"""The sweep on the scheduler: scheduled at start-up, never raises, misconfiguration is logged."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.notifiers import Notifiers
from bot.rollouts.flow import RollbackFlow
from bot.rollouts.notify import LogRollbackNotifier
from bot.rollouts.schedule import add_rollback_jobs, scheduled_sweep
from bot.settings import Settings
from bot.store import Store
from tests.rollouts.conftest import COHORT, DRI, NOW, REQUESTER, rollout_settings


def test_the_sweep_is_scheduled_and_resumes_an_approved_request(
    seeded: Store, rb_settings: Settings
) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    notifier = LogRollbackNotifier()
    flow = add_rollback_jobs(scheduler, seeded, rb_settings, Notifiers(rollbacks=notifier))
    assert flow is not None and flow.notifier is notifier
    assert scheduler.get_job("rollbacks:sweep") is not None

    early = RollbackFlow(seeded, rb_settings, LogRollbackNotifier(), clock=lambda: NOW)
    request = early.request(
        cohort=COHORT, target=None, percent=None, reason="OOM", requester=REQUESTER
    )
    early.approve(request.id, DRI, execute=False)  # the replica died before executing
    flow.clock = lambda: NOW + timedelta(minutes=1)
    scheduled_sweep(flow)
    assert flow.get(request.id).state == "executed"
    assert [n.state for n in notifier.notices] == ["executed"]


def test_a_webhook_backend_without_a_url_is_logged_not_fatal(
    seeded: Store, settings: Settings
) -> None:
    broken = settings.model_copy(update={"rollouts": rollout_settings(backend="webhook")})
    scheduler = BackgroundScheduler(timezone="UTC")
    assert add_rollback_jobs(scheduler, seeded, broken, Notifiers()) is None
    assert scheduler.get_job("rollbacks:sweep") is None
