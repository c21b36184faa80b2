"""The probe schedule: a lease picks one runner among replicas; a raising probe stops nothing."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from bot.db import transaction
from bot.probes.lease import holder_of, release, try_acquire
from bot.probes.models import ProbeRun
from bot.probes.notify import LogNotifier
from bot.probes.registry import register_build
from bot.probes.schedule import add_probe_jobs, scheduled_round
from bot.probes.service import ProbeRunner
from bot.probes.settings import EdgeProbeSettings, ProbeSettings
from bot.sandbox.models import GOLDEN_SET, MODELS_DIR
from bot.settings import Settings
from bot.store import Store, open_store
from bot.timeutil import utcnow
from tests.probes.conftest import probe_settings

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def test_lease_is_held_renewed_and_taken_over_only_after_expiry(store: Store) -> None:
    def acquire(holder: str, at: datetime) -> bool:
        with transaction(store.sessions) as session:
            return try_acquire(session=session, holder=holder, now=at, ttl=TTL)

    assert acquire("a", T0)
    assert not acquire("b", T0 + timedelta(seconds=1))
    assert acquire("a", T0 + timedelta(seconds=50))  # renewal: now valid until T0+110s
    assert not acquire("b", T0 + timedelta(seconds=100))
    assert acquire("b", T0 + timedelta(seconds=111))  # a stopped renewing: b takes over
    assert not acquire("a", T0 + timedelta(seconds=112))
    with transaction(store.sessions) as session:
        release(session=session, holder="b", now=T0 + timedelta(seconds=113))
        assert holder_of(session=session, now=T0 + timedelta(seconds=113)) is None
    assert acquire("a", T0 + timedelta(seconds=113))


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _count(store: Store, target: str | None = None) -> int:
    with store.sessions() as session:
        query = select(func.count()).select_from(ProbeRun)
        if target is not None:
            query = query.where(ProbeRun.target == target)
        return int(session.scalar(query) or 0)


def _register(store: Store, model_id: str, golden_set: Path, tmp_path: Path) -> None:
    with transaction(store.sessions) as session:
        register_build(
            session=session,
            model_id=model_id,
            tier="edge",
            location=str(MODELS_DIR / "router-int8.onnx"),
            quantization="int8",
            reference_model_id="router-fp32",
            golden_set=str(golden_set),
            expected_sha256=None,
            now=utcnow(),
            cache_dir=tmp_path,
        )


def _fast_settings(tmp_path: Path) -> ProbeSettings:
    edge = EdgeProbeSettings(interval_seconds=0.2, warmup_runs=1)
    return probe_settings(tmp_path, edge=edge, lease_seconds=30)


def test_two_schedulers_on_one_database_one_runner(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    _register(store, "router-int8", GOLDEN_SET, tmp_path)
    other = open_store(settings)
    schedulers = []
    try:
        for name, replica in (("replica-a", store), ("replica-b", other)):
            scheduler = BackgroundScheduler(timezone="UTC")
            add_probe_jobs(
                scheduler,
                ProbeRunner(replica, _fast_settings(tmp_path), LogNotifier(), runner_id=name),
            )
            schedulers.append(scheduler)
        for scheduler in schedulers:
            scheduler.start()
        _wait_for(lambda: _count(store) >= 4)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
        other.close()
    with store.sessions() as session:
        runners = set(session.scalars(select(ProbeRun.runner).distinct()))
    assert len(runners) == 1 and runners <= {"replica-a", "replica-b"}


def test_scheduler_survives_a_probe_that_raises(store: Store, tmp_path: Path) -> None:
    golden_copy = tmp_path / "golden-copy.npz"
    shutil.copy(GOLDEN_SET, golden_copy)
    _register(store, "router-int8", GOLDEN_SET, tmp_path)
    _register(store, "router-int8-lost-golden", golden_copy, tmp_path)
    golden_copy.unlink()  # loading the golden set now raises inside the probe
    scheduler = BackgroundScheduler(timezone="UTC")
    add_probe_jobs(scheduler, ProbeRunner(store, _fast_settings(tmp_path), LogNotifier()))
    scheduler.start()
    try:
        _wait_for(lambda: _count(store, "edge/router-int8-lost-golden") >= 3)
        assert scheduler.get_job("probe:edge") is not None
    finally:
        scheduler.shutdown(wait=True)
    with store.sessions() as session:
        rows = session.scalars(select(ProbeRun).order_by(ProbeRun.id)).all()
    broken = [r for r in rows if r.target == "edge/router-int8-lost-golden"]
    healthy = [r for r in rows if r.target == "edge/router-int8"]
    assert all(not r.ok and r.error and "GoldenSetError" in r.error for r in broken)
    assert len(healthy) >= 3 and all(r.ok for r in healthy)


def test_a_round_that_cannot_reach_its_store_logs_and_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    no_schema = open_store(
        Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"), migrate=False
    )
    try:
        runner = ProbeRunner(no_schema, probe_settings(tmp_path), LogNotifier())
        with caplog.at_level(logging.ERROR):
            scheduled_round(runner, "all")  # must not raise: the scheduler keeps the job
    finally:
        no_schema.close()
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
