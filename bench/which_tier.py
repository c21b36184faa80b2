"""Which-tier benchmark: the diagnosis over rollups against a GROUP BY over raw events.

    .venv/bin/python bench/which_tier.py [--events 100000,1000000,10000000] [--runs 15]
                                         [--postgres postgresql+psycopg://user@host:port/db]

For each size a fresh store is filled through the real ingest path with simulated traffic at a
fixed rate (the int8_oom_lowram incident at its end), so more events means more *history*, not
a busier window: the question (a 30 min window against a 24 h baseline) stays the same.

- tierbot: `which_tier()` end to end (slices, window and baseline totals with histograms, burn
  rates over 5m/30m/1h/6h, attribution, router faults, changes, onsets), a fresh session a run.
- baseline: the same counts answered by `GROUP BY tier, model_id, cohort, region, device_class,
  os_version, app_version` over router_events for the window and the baseline, with an index on
  ts_ms created for it first (so the baseline reads only the rows in its time range, as a
  sensible raw-events design would). It returns counts only: no percentiles, no attribution.

The table shows p50 and p95 over `--runs` runs, the speed-up over the baseline, and how the
p50 grows with history (each size against the smallest).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.diagnosis.service import which_tier
from bot.sandbox.traffic import SCENARIOS
from bot.settings import Settings
from bot.store import Store, open_store
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events, records_from_values
from bot.timeutil import to_epoch_ms

END = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
WINDOW, BASELINE = timedelta(minutes=30), timedelta(hours=24)
RATE = 600.0  # turns per minute: about 700 events per minute


def _fill(store: Store, events: int, seed: int) -> int:
    minutes = events / (RATE * 1.01)
    history = max(timedelta(minutes=minutes) - WINDOW, timedelta(hours=1))
    sim = SCENARIOS["int8_oom_lowram"](
        seed=seed, end=END, rate_per_minute=RATE, window=WINDOW, baseline=history
    )
    ingest_cohort_assignments(store.engine, records_from_values(sim.assignments()), source="bench")
    summary = ingest_events(store.engine, records_from_values(sim.events()), source="bench")
    return summary.stored


def _raw_group_by(store: Store) -> None:
    ws = END - WINDOW
    spans = [(ws, END), (ws - BASELINE, ws)]
    with store.engine.connect() as conn:
        for start, end in spans:
            conn.execute(
                text(
                    "SELECT tier, model_id, cohort, region, device_class, os_version, app_version, "
                    "COUNT(*), SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), "
                    "SUM(CASE WHEN attempt > 0 THEN 1 ELSE 0 END), AVG(latency_ms) "
                    "FROM router_events "
                    "WHERE ts_ms >= :a AND ts_ms < :b "
                    "GROUP BY tier, model_id, cohort, region, device_class, os_version, app_version"
                ),
                {"a": to_epoch_ms(start), "b": to_epoch_ms(end)},
            ).fetchall()


def _diagnose(store: Store, budgets: Settings) -> None:
    with store.sessions() as session:
        report = which_tier(
            session=session, budgets=budgets.budgets, end=END, window=WINDOW, baseline=BASELINE
        )
    assert report.failing == ["edge"], report.verdict


def _timed(fn: Callable[[], None], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, sizes: list[int], runs: int, seed: int, label: str) -> list[dict[str, float]]:
    rows = []
    for size in sizes:
        if url.startswith("sqlite"):
            path = Path(url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        else:
            engine = open_store(Settings(database_url=url), migrate=False).engine
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        settings = Settings(database_url=url)
        store = open_store(settings)
        t = time.perf_counter()
        stored = _fill(store, size, seed)
        fill_s = time.perf_counter() - t
        _diagnose(store, settings)  # warm caches once
        ours = _timed(partial(_diagnose, store, settings), runs)
        with store.engine.begin() as conn:
            conn.execute(
                text("CREATE INDEX IF NOT EXISTS bench_events_ts ON router_events (ts_ms)")
            )
        _raw_group_by(store)
        raw = _timed(partial(_raw_group_by, store), max(3, runs // 3))
        store.close()
        rows.append(
            {
                "events": stored,
                "fill_s": fill_s,
                "p50": statistics.median(ours),
                "p95": _pct(ours, 0.95),
                "raw_p50": statistics.median(raw),
            }
        )
        print(
            f"  [{label}] {stored:,} events stored in {fill_s:.0f} s; "
            f"which-tier p50 {rows[-1]['p50']:.0f} ms",
            flush=True,
        )
    return rows


def table(label: str, rows: list[dict[str, float]]) -> str:
    first = rows[0]["p50"]
    lines = [
        "| store | events | which-tier p50 | p95 | raw GROUP BY p50 | speed-up "
        f"| p50 vs {rows[0]['events']:,.0f} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {label} | {r['events']:,.0f} | {r['p50']:.0f} ms | {r['p95']:.0f} ms "
            f"| {r['raw_p50']:.0f} ms "
            f"| {r['raw_p50'] / r['p50']:.1f}x | {r['p50'] / first:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", default="100000,1000000,10000000")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get("TIERBOT_BENCH_POSTGRES"))
    args = parser.parse_args()
    sizes = [int(x) for x in args.events.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        results = [
            ("SQLite", run(f"sqlite:///{tmp}/bench.db", sizes, args.runs, args.seed, "sqlite"))
        ]
    if args.postgres:
        results.append(
            ("PostgreSQL", run(args.postgres, sizes, args.runs, args.seed, "postgresql"))
        )
    print()
    print(f"which-tier: 30 min window, 24 h baseline, {RATE:.0f} turns/min, {args.runs} runs each")
    for label, rows in results:
        print(table(label, rows))
        print()


if __name__ == "__main__":
    main()
