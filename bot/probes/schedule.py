"""Probes on the scheduler: every replica schedules them, only the lease holder runs them.

Jobs coalesce missed runs into one and run at most one instance at a time (a slow round never
piles up behind itself), with jitter so replicas and targets do not beat in step. A job never
lets an exception escape: the scheduler keeps its next run whatever one round did.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.base import BaseScheduler

from bot.db import transaction
from bot.errors import error_id_for
from bot.probes.lease import release, try_acquire
from bot.probes.service import ProbeRunner
from bot.probes.store import prune_results
from bot.probes.tiers import TierChoice

log = logging.getLogger(__name__)


def holds_lease(runner: ProbeRunner) -> bool:
    """Take or renew the probe lease for this process."""
    ttl = timedelta(seconds=runner.settings.lease_seconds)
    with transaction(runner.store.sessions) as session:
        return try_acquire(session=session, holder=runner.runner_id, now=runner.clock(), ttl=ttl)


def scheduled_round(runner: ProbeRunner, tier: TierChoice) -> None:
    """The job body: run a round if this replica holds the lease; log, never raise."""
    try:
        if not holds_lease(runner):
            return
        results = runner.run_round(tier)
        failed = [r.target for r in results if not r.ok]
        log.info("probe round %s: %d targets, failed: %s", tier, len(results), failed or "none")
    except Exception as exc:
        error_id_for(exc)


def scheduled_lease_renewal(runner: ProbeRunner) -> None:
    try:
        holds_lease(runner)
    except Exception as exc:
        error_id_for(exc)


def scheduled_prune(runner: ProbeRunner) -> None:
    """Drop probe results past the history window (lease holder only)."""
    try:
        if not holds_lease(runner):
            return
        cutoff = runner.clock() - timedelta(days=runner.settings.history_days)
        with transaction(runner.store.sessions) as session:
            pruned = prune_results(session=session, older_than=cutoff)
        log.info("probe history: pruned %d results older than %s", pruned, cutoff)
    except Exception as exc:
        error_id_for(exc)


def add_probe_jobs(scheduler: BaseScheduler, runner: ProbeRunner) -> None:
    """Add the edge, cloud, lease and history jobs to `scheduler` (started or not)."""
    settings = runner.settings
    if not settings.enabled:
        return
    start = runner.clock()
    intervals: dict[TierChoice, float] = {"edge": settings.edge.interval_seconds}
    if settings.cloud_endpoints:
        intervals["cloud"] = settings.cloud_interval_seconds
    for tier, seconds in intervals.items():
        scheduler.add_job(
            scheduled_round,
            "interval",
            seconds=seconds,
            jitter=min(settings.jitter_seconds, seconds / 10),
            args=[runner, tier],
            id=f"probe:{tier}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(seconds)),
            next_run_time=start,
            replace_existing=True,
        )
    # Renew the lease well within its lifetime, even when every probe interval is longer.
    scheduler.add_job(
        scheduled_lease_renewal,
        "interval",
        seconds=settings.lease_seconds / 3,
        args=[runner],
        id="probe:lease",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        scheduled_prune,
        "interval",
        hours=6,
        args=[runner],
        id="probe:prune",
        coalesce=True,
        max_instances=1,
        next_run_time=start + timedelta(minutes=1),
        replace_existing=True,
    )


def stop(runner: ProbeRunner) -> None:
    """Release the lease at shutdown so another replica takes over without waiting."""
    with transaction(runner.store.sessions) as session:
        release(session=session, holder=runner.runner_id, now=runner.clock())
