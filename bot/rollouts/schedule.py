"""Rollbacks on the scheduler: one sweep that expires, announces, resumes and verifies.

Every replica schedules it; each piece of work is claimed with a conditional update, so more
replicas never mean a second execution. The first sweep runs at start-up: that is what picks up
a request a crash left `approved` (or `executing` past its lease).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler

from bot.errors import error_id_for
from bot.rollouts.flow import RollbackFlow
from bot.settings import Settings
from bot.store import Store
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.notifiers import Notifiers
    from bot.probes.service import ProbeRunner

log = logging.getLogger(__name__)


def scheduled_sweep(flow: RollbackFlow) -> None:
    """The job body: log, never raise."""
    try:
        flow.sweep()
    except Exception as exc:
        error_id_for(exc)


def add_rollback_jobs(
    scheduler: BaseScheduler,
    store: Store,
    settings: Settings,
    notifiers: Notifiers,
    *,
    probe_runner: ProbeRunner | None = None,
) -> RollbackFlow | None:
    """Schedule the sweep every `rollouts.sweep_interval_seconds`; returns the flow it drives."""
    try:
        flow = RollbackFlow(store, settings, notifiers.rollbacks, probe_runner=probe_runner)
    except Exception as exc:  # a misconfigured backend: say so, keep the other jobs
        log.error("rollbacks are not scheduled: %s", exc)
        return None
    seconds = settings.rollouts.sweep_interval_seconds
    scheduler.add_job(
        scheduled_sweep,
        "interval",
        seconds=seconds,
        args=[flow],
        id="rollbacks:sweep",
        misfire_grace_time=max(1, int(seconds)),
        next_run_time=utcnow(),
    )
    return flow
