"""Run probe rounds: probe, store the results, move the alert states, announce the changes.

One `ProbeRunner` per process keeps the warmed onnxruntime sessions between rounds; the
scheduler, the CLI and (later) Slack all go through `run_round`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from bot.db import transaction
from bot.probes.alerts import Hysteresis, deliver_changes, record_outcome
from bot.probes.cloud_tier import probe_endpoints, tls_verification
from bot.probes.notify import Alert, AlertNotifier
from bot.probes.onnx_tier import SessionCache, probe_build
from bot.probes.registry import RegisteredBuild, probed_builds
from bot.probes.results import ProbeResult
from bot.probes.settings import ProbeSettings
from bot.probes.store import save_result
from bot.probes.tiers import TierChoice
from bot.store import Store
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

_MAX_ERROR = 300


def default_runner_id() -> str:
    """Names this process in results and in the lease: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _raised(
    target: str, tier: str, now: datetime, started: float, exc: BaseException
) -> ProbeResult:
    """A probe that raised is a failed result, so one bad target never stops the round."""
    log.warning("probe of %s raised %s", target, type(exc).__name__, exc_info=exc)
    return ProbeResult(
        target=target,
        tier=tier,
        started_at=now,
        duration_ms=(time.perf_counter() - started) * 1000,
        error=f"probe raised {type(exc).__name__}: {exc}"[:_MAX_ERROR],
    )


class ProbeRunner:
    """Probes, records and alerts for one process."""

    def __init__(
        self,
        store: Store,
        settings: ProbeSettings,
        notifier: AlertNotifier,
        *,
        runner_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self.notifier = notifier
        self.runner_id = runner_id or default_runner_id()
        self.clock = clock
        self.sessions = SessionCache.for_settings(settings.edge)
        self.rules = Hysteresis(settings.open_after_failures, settings.resolve_after_passes)

    def probe_edge(self) -> list[ProbeResult]:
        with self.store.sessions() as session:
            builds = probed_builds(session=session, tier="edge")
        return [self._probe_build(build) for build in builds]

    def _probe_build(self, build: RegisteredBuild) -> ProbeResult:
        now, started = self.clock(), time.perf_counter()
        try:
            return probe_build(
                build,
                settings=self.settings.edge,
                sessions=self.sessions,
                cache_dir=self.settings.model_cache_dir,
                now=now,
                verify=tls_verification(self.settings.ca_bundle),
            )
        except Exception as exc:
            return _raised(f"edge/{build.model_id}", "edge", now, started, exc)

    def probe_cloud(self) -> list[ProbeResult]:
        endpoints = self.settings.cloud_endpoints
        if not endpoints:
            return []
        now, started = self.clock(), time.perf_counter()
        try:
            return asyncio.run(
                probe_endpoints(endpoints, now=now, ca_bundle=self.settings.ca_bundle)
            )
        except Exception as exc:
            return [_raised(e.target, "cloud", now, started, exc) for e in endpoints]

    def probe(self, tier: TierChoice) -> list[ProbeResult]:
        results = []
        if tier in ("edge", "all"):
            results += self.probe_edge()
        if tier in ("cloud", "all"):
            results += self.probe_cloud()
        return results

    def save(self, results: list[ProbeResult]) -> None:
        """Store results and fold them into the alert states, in one transaction."""
        now = self.clock()
        with transaction(self.store.sessions) as session:
            for result in results:
                result_id = save_result(session=session, result=result, runner=self.runner_id)
                record_outcome(
                    session=session, result=result, result_id=result_id, rules=self.rules, now=now
                )

    def announce(self) -> list[Alert]:
        """Tell the notifier about alert changes no replica has announced yet."""
        return deliver_changes(self.store.sessions, self.notifier)

    def run_round(self, tier: TierChoice) -> list[ProbeResult]:
        """Probe `tier` now, store, alert; returns the results."""
        results = self.probe(tier)
        self.save(results)
        self.announce()
        return results
