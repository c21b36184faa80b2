"""The background scheduler: every feature's jobs, one probe runner shared by all of them."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.buildhealth.schedule import add_build_health_jobs
from bot.db import transaction
from bot.notifiers import Notifiers
from bot.playbooks.schedule import add_playbook_jobs
from bot.probes.schedule import add_probe_jobs
from bot.probes.service import ProbeRunner
from bot.rollouts.schedule import add_rollback_jobs
from bot.settings import PullSource, Settings
from bot.store import Store
from bot.telemetry.prometheus import add_prometheus_jobs
from bot.telemetry.pull import PullError, poll
from bot.telemetry.rollup_ingest import prune_minute_rollups
from bot.telemetry.service import prune_raw_events
from bot.timeutil import utcnow

log = logging.getLogger(__name__)


def _poll_job(store: Store, source: PullSource, max_body_bytes: int) -> None:
    try:
        result = poll(store.engine, source, max_body_bytes=max_body_bytes)
    except PullError as exc:
        log.warning("pull source failed: %s", exc)
        return
    log.info(
        "pull %s: %d pages, %d stored, %d duplicates, %d rejected",
        source.name,
        result.pages,
        result.stored,
        result.duplicates,
        result.rejected,
    )


def _retention_job(store: Store, days: float) -> None:
    with transaction(store.sessions) as session:
        pruned = prune_raw_events(session=session, older_than=utcnow() - timedelta(days=days))
    log.info("retention: pruned %d raw router events older than %s days", pruned, days)


def _minute_retention_job(store: Store, days: float) -> None:
    """Minute rollups past their retention go (one DELETE under the ingest lock: any replica)."""
    removed = prune_minute_rollups(store.engine, older_than=utcnow() - timedelta(days=days))
    log.info("retention: pruned %d minute rollups older than %s days", removed, days)


def build_scheduler(
    store: Store,
    settings: Settings,
    notifiers: Notifiers | None = None,
    *,
    probe_runner: ProbeRunner | None = None,
) -> BackgroundScheduler:
    """The background jobs of one replica (not started).

    Every replica schedules every job; jobs that must run once (probes, sweeps) take a lease or
    make their changes with conditional updates, so more replicas never mean more work done.
    """
    notifiers = notifiers or Notifiers()
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    for source in settings.pull_sources:
        scheduler.add_job(
            _poll_job,
            "interval",
            seconds=source.interval_seconds,
            jitter=min(5.0, source.interval_seconds / 10),
            args=[store, source, settings.ingest_max_body_bytes],
            id=f"pull:{source.name}",
            misfire_grace_time=max(1, int(source.interval_seconds)),
            next_run_time=utcnow(),
        )
    scheduler.add_job(
        _retention_job,
        "interval",
        hours=24,
        args=[store, settings.retention_days],
        id="retention",
        next_run_time=utcnow() + timedelta(minutes=1),
    )
    scheduler.add_job(
        _minute_retention_job,
        "interval",
        hours=24,
        args=[store, settings.minute_rollup_retention_days],
        id="minute-rollup-retention",
        next_run_time=utcnow() + timedelta(hours=1),
    )
    # One runner for the probe jobs, playbooks and rollbacks: it keeps the warmed sessions.
    probe_runner = probe_runner or ProbeRunner(store, settings.probes, notifiers.probe_alerts)
    add_probe_jobs(scheduler, probe_runner)
    add_prometheus_jobs(scheduler, store, settings)
    add_playbook_jobs(scheduler, store, settings, notifiers, probe_runner=probe_runner)
    add_rollback_jobs(scheduler, store, settings, notifiers, probe_runner=probe_runner)
    add_build_health_jobs(scheduler, store, settings, notifiers)
    return scheduler
