"""Playbooks on the scheduler: continue runs whose wait is over, resume runs a restart left.

Every replica schedules the tick; the runner's conditional updates make sure each run moves
once however many replicas tick at the same moment.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler

from bot.errors import error_id_for
from bot.playbooks.service import Playbooks
from bot.settings import Settings
from bot.store import Store
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.notifiers import Notifiers
    from bot.probes.service import ProbeRunner

log = logging.getLogger(__name__)


def scheduled_tick(playbooks: Playbooks) -> None:
    """The job body: log, never raise (the scheduler keeps the next run whatever this did)."""
    try:
        moved = playbooks.tick(utcnow())
        if moved:
            log.info("playbooks: %d runs moved on", moved)
    except Exception as exc:
        error_id_for(exc)


def add_playbook_jobs(
    scheduler: BaseScheduler,
    store: Store,
    settings: Settings,
    notifiers: Notifiers,
    *,
    probe_runner: ProbeRunner | None = None,
) -> Playbooks:
    """Schedule the tick every `playbooks.tick_seconds`; returns the service it drives."""
    if probe_runner is None:
        from bot.probes.service import ProbeRunner

        probe_runner = ProbeRunner(store, settings.probes, notifiers.probe_alerts)
    playbooks = Playbooks(store, settings, notifiers.playbooks, probe_runner=probe_runner)
    scheduler.add_job(
        scheduled_tick,
        "interval",
        seconds=settings.playbooks.tick_seconds,
        args=[playbooks],
        id="playbooks:tick",
        misfire_grace_time=max(1, int(settings.playbooks.tick_seconds)),
        next_run_time=utcnow(),
    )
    return playbooks
