"""The scheduled config-staleness check: every replica schedules it, conditional updates keep
each alert change (and its announcement) to one, as for the probes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler

from bot.buildhealth.service import StalenessCheck, record_staleness_checks
from bot.buildhealth.staleness import config_staleness
from bot.db import transaction
from bot.errors import error_id_for
from bot.notifiers import Notifiers
from bot.probes.alerts import deliver_changes
from bot.settings import Settings
from bot.store import Store
from bot.timeutil import utcnow

log = logging.getLogger(__name__)
JOB_ID = "build_health:staleness"


def check_config_staleness(
    store: Store, settings: Settings, notifiers: Notifiers, now: datetime
) -> list[StalenessCheck]:
    """Judge every cohort at `now`, fold the results into their alerts, announce changes."""
    with transaction(store.sessions) as session:
        items = config_staleness(session=session, end=now, settings=settings.build_health)
        checks = record_staleness_checks(
            session=session, items=items, settings=settings.build_health, now=now
        )
    deliver_changes(store.sessions, notifiers.probe_alerts)
    return checks


def scheduled_check(
    store: Store, settings: Settings, notifiers: Notifiers, clock: Callable[[], datetime]
) -> None:
    """The job body: log, never raise (the scheduler keeps its next run whatever happens)."""
    try:
        checks = check_config_staleness(store, settings, notifiers, clock())
        stale = [c.cohort for c in checks if not c.ok]
        log.info("config staleness: %d cohorts, stale: %s", len(checks), stale or "none")
    except Exception as exc:
        error_id_for(exc)


def add_build_health_jobs(
    scheduler: BaseScheduler,
    store: Store,
    settings: Settings,
    notifiers: Notifiers | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Add the staleness check when `build_health.alerts_enabled` is set."""
    if not settings.build_health.alerts_enabled:
        return
    seconds = settings.build_health.check_interval_seconds
    scheduler.add_job(
        scheduled_check,
        "interval",
        seconds=seconds,
        jitter=min(5.0, seconds / 10),
        args=[store, settings, notifiers or Notifiers(), clock],
        id=JOB_ID,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(seconds)),
        next_run_time=utcnow(),
        replace_existing=True,
    )
