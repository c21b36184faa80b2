"""Probe benchmark: what the ONNX probe adds over bare inference, and cloud probes in parallel.

1. The ONNX probe over the golden set (hash check, per-run timing, agreement/SQNR) against raw
   `InferenceSession.run` on the same inputs with the same warmed session, in the same run,
   interleaved, median of many repetitions. Goal: probe / raw <= 1.2.
2. Cloud probes of 50 endpoints on the loopback stand-in, each with its own delay, all at once,
   against the slowest endpoint probed alone. Goal: all / slowest <= 1.1.

Run: .venv/bin/python bench/probe.py [--repeats 200] [--endpoints 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event

from bot.probes.cloud_tier import probe_endpoints
from bot.probes.golden import load_golden_set
from bot.probes.onnx_tier import SessionCache, probe_build
from bot.probes.registry import RegisteredBuild, file_sha256
from bot.probes.settings import CloudEndpoint, EdgeProbeSettings
from bot.sandbox.cloud import CloudStandIn
from bot.sandbox.models import GOLDEN_SET, MODELS_DIR
from bot.timeutil import utcnow


def bench_onnx(model_file: str, repeats: int) -> dict[str, float]:
    path = MODELS_DIR / model_file
    build = RegisteredBuild(
        model_id=model_file,
        tier="edge",
        quantization=None,
        file_path=str(path),
        sha256=file_sha256(path),
        reference_model_id=None,
        golden_set=str(GOLDEN_SET),
    )
    settings = EdgeProbeSettings()
    sessions = SessionCache.for_settings(settings)
    golden = load_golden_set(GOLDEN_SET)
    session = sessions.get(path, build.sha256, golden.inputs[0])
    name = session.get_inputs()[0].name

    def raw() -> float:
        start = time.perf_counter()
        for row in golden.inputs:
            session.run(None, {name: row})
        return time.perf_counter() - start

    def probe() -> float:
        start = time.perf_counter()
        result = probe_build(
            build, settings=settings, sessions=sessions, cache_dir=MODELS_DIR, now=utcnow()
        )
        elapsed = time.perf_counter() - start
        assert result.error is None
        return elapsed

    for _ in range(20):  # warm both paths
        raw(), probe()
    raw_times, probe_times = [], []
    for _ in range(repeats):
        raw_times.append(raw())
        probe_times.append(probe())
    raw_ms, probe_ms = statistics.median(raw_times) * 1000, statistics.median(probe_times) * 1000
    return {
        "inputs": len(golden),
        "raw_ms": round(raw_ms, 3),
        "probe_ms": round(probe_ms, 3),
        "ratio": round(probe_ms / raw_ms, 3),
    }


def _delay(i: int, count: int) -> float:
    return 0.05 + 0.2 * i / max(1, count - 1)  # 50..250 ms per request


def _serve_stand_in(count: int, urls: Queue[str], stop: Event) -> None:
    """The stand-in in its own process, so it does not share the probing process's GIL."""
    stand_in = CloudStandIn(model="assistant")
    for i in range(count):
        stand_in.faults(f"ep{i:02d}").delay_seconds = _delay(i, count)
    with stand_in.serve() as url:
        urls.put(url)
        stop.wait()


def bench_cloud(count: int) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    urls: Queue[str] = context.Queue()
    stop = context.Event()
    server = context.Process(target=_serve_stand_in, args=(count, urls, stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=30)
        endpoints = [
            CloudEndpoint(
                name=f"ep{i:02d}",
                region=f"region-{i % 5}",
                protocol="openai" if i % 2 else "oip",
                base_url=f"{url}/ep{i:02d}",
                model="assistant",
                latency_budget_ms=10_000,
            )
            for i in range(count)
        ]
        requests = {"openai": 2, "oip": 3}
        slowest = max(
            range(count), key=lambda i: _delay(i, count) * requests[endpoints[i].protocol]
        )
        alone, together = [], []
        for _ in range(9):
            start = time.perf_counter()
            asyncio.run(probe_endpoints([endpoints[slowest]], now=utcnow()))
            alone.append(time.perf_counter() - start)
            start = time.perf_counter()
            results = asyncio.run(probe_endpoints(endpoints, now=utcnow()))
            together.append(time.perf_counter() - start)
            assert all(r.ok for r in results), [r.summary() for r in results if not r.ok]
    finally:
        stop.set()
        server.join(10)
    alone_ms, together_ms = statistics.median(alone) * 1000, statistics.median(together) * 1000
    return {
        "endpoints": count,
        "slowest_alone_ms": round(alone_ms, 1),
        "all_concurrently_ms": round(together_ms, 1),
        "ratio": round(together_ms / alone_ms, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--endpoints", type=int, default=50)
    args = parser.parse_args()
    report = {
        "onnx_fp32": bench_onnx("router-fp32.onnx", args.repeats),
        "onnx_int8": bench_onnx("router-int8.onnx", args.repeats),
        "cloud": bench_cloud(args.endpoints),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
