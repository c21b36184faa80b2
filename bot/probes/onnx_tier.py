"""The edge-tier probe: run each registered build on its golden set with onnxruntime and judge it.

Checks, each reported with its number: the file's sha256 against the registry, top-1 agreement
with the reference outputs, SQNR and the largest absolute difference of the outputs, and the p95
latency of single-input runs. Sessions are cached per file hash and warmed up once, so timing
measures inference and not loading; each run is timed alone, as a device runs the router.
"""

from __future__ import annotations

import math
import ssl
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bot.probes.golden import GoldenSet, load_golden_set
from bot.probes.registry import RegisteredBuild, fetch, file_sha256, is_url, local_file
from bot.probes.results import Check, ProbeResult
from bot.probes.settings import EdgeProbeSettings

SQNR_CAP_DB = 200.0  # identical outputs have infinite SQNR; JSON and Prometheus want a number


class SessionCache:
    """InferenceSessions keyed by file hash: a changed file gets a new, freshly warmed session."""

    def __init__(self, *, intra_op_threads: int = 1, warmup_runs: int = 10) -> None:
        self._intra_op_threads = intra_op_threads
        self._warmup_runs = warmup_runs
        self._sessions: dict[tuple[str, str], ort.InferenceSession] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: EdgeProbeSettings) -> SessionCache:
        return cls(intra_op_threads=settings.intra_op_threads, warmup_runs=settings.warmup_runs)

    def get(self, path: Path, sha256: str, warmup_input: np.ndarray) -> ort.InferenceSession:
        key = (str(path), sha256)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = self._load(path, warmup_input)
                stale = [k for k in self._sessions if k[0] == key[0]]
                for old in stale:
                    del self._sessions[old]
                self._sessions[key] = session
            return session

    def _load(self, path: Path, warmup_input: np.ndarray) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._intra_op_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        feed = {session.get_inputs()[0].name: warmup_input}
        for _ in range(self._warmup_runs):
            session.run(None, feed)
        return session


def timed_outputs(
    session: ort.InferenceSession, golden: GoldenSet
) -> tuple[np.ndarray, list[float]]:
    """Run every golden input alone; returns (outputs, per-run latency in ms).

    The loop does nothing but run and read the clock, so the probe costs little more than
    the inference it measures (bench/probe.py holds it to 1.2x).
    """
    input_name = session.get_inputs()[0].name
    output_names = [session.get_outputs()[0].name]
    run = session.run
    clock = time.perf_counter_ns
    latencies_ns = [0] * len(golden)
    outputs: list[np.ndarray] = [np.empty(0)] * len(golden)
    for i, row in enumerate(golden.inputs):
        start = clock()
        outputs[i] = run(output_names, {input_name: row})[0]
        latencies_ns[i] = clock() - start
    return np.concatenate(outputs), [ns / 1e6 for ns in latencies_ns]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile: an observed latency, never an interpolated one."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def output_checks(
    outputs: np.ndarray, golden: GoldenSet, settings: EdgeProbeSettings
) -> dict[str, Check]:
    """Agreement, SQNR and max |diff| of `outputs` against the reference build's outputs."""
    reference = golden.reference_outputs
    if outputs.shape != reference.shape:
        detail = f"output shape {outputs.shape} differs from the reference {reference.shape}"
        return {"top1_agreement": Check(ok=False, detail=detail)}
    agreeing = int(np.count_nonzero(outputs.argmax(axis=1) == golden.reference_top1))
    agreement = agreeing / len(outputs)
    diff = (outputs - reference).ravel().astype(np.float64)
    noise = float(diff @ diff)
    sqnr = (
        SQNR_CAP_DB
        if noise == 0
        else min(SQNR_CAP_DB, 10 * math.log10(golden.reference_energy / noise))
    )
    max_diff = float(np.max(np.abs(diff)))
    return {
        "top1_agreement": Check(
            ok=agreement >= settings.min_top1_agreement,
            value=agreement,
            limit=settings.min_top1_agreement,
            detail=f"{agreeing}/{len(outputs)} golden inputs agree",
        ),
        "sqnr_db": Check(
            ok=sqnr >= settings.min_sqnr_db, value=sqnr, limit=settings.min_sqnr_db, unit=" dB"
        ),
        "max_abs_diff": Check(
            ok=settings.max_abs_diff is None or max_diff <= settings.max_abs_diff,
            value=max_diff,
            limit=settings.max_abs_diff,
        ),
    }


def probe_build(
    build: RegisteredBuild,
    *,
    settings: EdgeProbeSettings,
    sessions: SessionCache,
    cache_dir: Path,
    now: datetime,
    download_timeout: float = 30.0,
    verify: ssl.SSLContext | bool = True,
) -> ProbeResult:
    """Probe one registered edge build: what the build gets wrong is in the checks.

    A missing golden set or a failed download raises; the runner records that as an error.
    """
    started = time.perf_counter()
    target = f"edge/{build.model_id}"
    checks: dict[str, Check] = {}

    def finish(error: str | None = None) -> ProbeResult:
        duration = (time.perf_counter() - started) * 1000
        return ProbeResult(target, "edge", now, duration, checks=checks, error=error)

    path = local_file(build.file_path, cache_dir)
    if is_url(build.file_path) and not path.is_file():
        path = fetch(build.file_path, cache_dir, timeout=download_timeout, verify=verify)
    try:
        actual = file_sha256(path)
    except OSError as exc:
        return finish(f"model file {path} cannot be read: {exc.strerror}")
    checks["sha256"] = Check(
        ok=actual == build.sha256,
        detail="matches the registry"
        if actual == build.sha256
        else f"file is {actual[:12]}…, registry says {build.sha256[:12]}…",
    )
    if build.golden_set is None:
        return finish("no golden set registered for this build")
    golden = load_golden_set(build.golden_set)
    try:
        session = sessions.get(path, actual, golden.inputs[0])
        outputs, latencies_ms = timed_outputs(session, golden)
    except Exception as exc:  # onnxruntime raises its own types for unloadable models
        return finish(f"onnxruntime failed on {path.name}: {type(exc).__name__}: {exc}"[:300])
    checks.update(output_checks(outputs, golden, settings))
    p95_ms = p95(latencies_ms)
    checks["p95_latency_ms"] = Check(
        ok=p95_ms <= settings.p95_latency_budget_ms,
        value=p95_ms,
        limit=settings.p95_latency_budget_ms,
        unit=" ms",
        detail=f"{len(latencies_ms)} runs of batch 1",
    )
    return finish()
