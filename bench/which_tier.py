"""Which-tier benchmark: the diagnosis over rollups against a GROUP BY over raw events.

    .venv/bin/python bench/which_tier.py [--events 100000,1000000,10000000] [--runs 15]
                                         [--postgres postgresql+psycopg://user@host:port/db]
    .venv/bin/python bench/which_tier.py --rollups-for 1M,10M,100M [--runs 15] [--postgres URL]

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

With `--rollups-for`, history is *generated as rollups*, not events (as pre-aggregated ingest
and the Prometheus source store it): the last 25 hours are simulated and ingested as events as
above, then the minute and hour rollups of its first, incident-free day are copied back day by
day until the rollups hold the given number of events' worth; one store grows size by size.
No raw events exist for that history, so there is no raw GROUP BY to compare with; the table
shows how the p50 follows (or not) the history behind the same question.
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
from bot.sandbox.scenarios import SCENARIOS
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


DAY = 86400


_COPIED = "slice_id, requests, errors, timeouts, retries, latency_sum_ms, latency_max_ms, histogram"
_INDEXES = {
    "rollup_minute": "ix_rollup_minute_slice_counts",
    "rollup_hour": "ix_rollup_hour_slice_counts",
}
_INDEXED = (
    "slice_id, bucket_start, requests, errors, timeouts, retries, latency_sum_ms, latency_max_ms"
)


def _copy_days_back(store: Store, target_events: int, template: int) -> tuple[int, int]:
    """Copy the template day's rollups back in time until `target_events` are held.

    Returns (events' worth held, minute rows). Copies go below the oldest day held, so the
    store grows size after size. They are bulk-loaded as one INSERT ... SELECT per table over
    the day offsets, with the slice indexes dropped first and built again after (as a restore
    would), and on SQLite without a journal.
    """
    engine = store.engine
    with engine.connect() as conn:
        day_events, held, oldest = conn.execute(
            text(
                "SELECT (SELECT SUM(requests) FROM rollup_minute WHERE bucket_start >= :a "
                "AND bucket_start < :b), (SELECT SUM(requests) FROM rollup_minute), "
                "(SELECT MIN(bucket_start) FROM rollup_hour)"
            ),
            {"a": template, "b": template + DAY},
        ).one()
    day_events, held = int(day_events or 0), int(held or 0)
    gap = template - int(oldest)  # copy n lands on [oldest - n days, oldest - (n - 1) days)
    days = max(0, -(-(target_events - held) // max(1, day_events)))
    if days:
        statements = [f"DROP INDEX IF EXISTS {index}" for index in _INDEXES.values()]
        for table in _INDEXES:
            statements.append(
                f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k "
                f"WHERE n < {days}) "
                f"INSERT INTO {table} (bucket_start, {_COPIED}) "
                f"SELECT t.bucket_start - {gap} - k.n * {DAY}, {_COPIED} FROM {table} t, k "
                f"WHERE t.bucket_start >= {template} AND t.bucket_start < {template + DAY}"
            )
        statements += [f"CREATE INDEX {index} ON {table} ({_INDEXED})"
                       for table, index in _INDEXES.items()]  # fmt: skip
        _bulk(store, statements)
    with engine.connect() as conn:
        rows = int(conn.execute(text("SELECT COUNT(*) FROM rollup_minute")).scalar_one())
    return held + days * day_events, rows


def _bulk(store: Store, statements: list[str]) -> None:
    """Run bulk-load statements: on SQLite without journal or sync, on PostgreSQL + ANALYZE."""
    engine = store.engine
    if engine.dialect.name == "sqlite":
        import sqlite3

        engine.dispose()
        raw = sqlite3.connect(str(engine.url.database), isolation_level=None)
        try:
            raw.execute("PRAGMA journal_mode=OFF")
            raw.execute("PRAGMA synchronous=OFF")
            raw.execute("PRAGMA cache_size=-1000000")
            for statement in statements:
                raw.execute(statement)
            raw.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()
        return
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE rollup_minute"))
        conn.execute(text("VACUUM ANALYZE rollup_hour"))


def _fresh(url: str) -> None:
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


def run_rollups(
    url: str, sizes: list[int], runs: int, seed: int, label: str
) -> list[dict[str, float]]:
    """The which-tier time as history generated as rollups grows (see the module docstring).

    One store: the last 25 hours are simulated once, then for each size (ascending) days are
    copied back until the rollups hold that many events' worth, and the same question is timed.
    """
    rows = []
    recent = int((BASELINE + WINDOW + timedelta(hours=1)).total_seconds() / 60 * RATE * 1.01)
    _fresh(url)
    settings = Settings(database_url=url)
    store = open_store(settings)
    t = time.perf_counter()
    _fill(store, recent, seed)
    with store.engine.connect() as conn:
        first = int(conn.execute(text("SELECT MIN(bucket_start) FROM rollup_hour")).scalar_one())
    template = first + 3600  # the first whole hour on: a whole day before the incident
    print(f"  [{label}] simulated the last 25 h in {time.perf_counter() - t:.0f} s", flush=True)
    for size in sorted(sizes):
        t = time.perf_counter()
        held, minute_rows = _copy_days_back(store, size, template)
        fill_s = time.perf_counter() - t
        _diagnose(store, settings)
        ours = _timed(partial(_diagnose, store, settings), runs)
        rows.append(
            {
                "events": held,
                "minute_rows": minute_rows,
                "fill_s": fill_s,
                "p50": statistics.median(ours),
                "p95": _pct(ours, 0.95),
            }
        )
        print(
            f"  [{label}] {held:,} events' worth in {minute_rows:,} minute rollups "
            f"(+{fill_s:.0f} s); which-tier p50 {rows[-1]['p50']:.0f} ms",
            flush=True,
        )
    store.close()
    return rows


def rollup_table(label: str, rows: list[dict[str, float]]) -> str:
    first = rows[0]["p50"]
    lines = [
        "| store | events' worth (as rollups) | minute rows | which-tier p50 | p95 "
        f"| p50 vs {rows[0]['events']:,.0f} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {label} | {r['events']:,.0f} | {r['minute_rows']:,.0f} | {r['p50']:.0f} ms "
            f"| {r['p95']:.0f} ms | {r['p50'] / first:.2f}x |"
        )
    return "\n".join(lines)


def _size(text_value: str) -> int:
    """100000, 100k, 10M, 1G."""
    units = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
    value = text_value.strip().lower()
    if value and value[-1] in units:
        return int(float(value[:-1]) * units[value[-1]])
    return int(value)


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
    parser.add_argument(
        "--rollups-for",
        help="Sizes (e.g. 1M,10M,100M) of history generated as rollups instead of events.",
    )
    args = parser.parse_args()
    if args.rollups_for:
        rollup_sizes = [_size(x) for x in args.rollups_for.split(",")]
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            results = [("SQLite", run_rollups(url, rollup_sizes, args.runs, args.seed, "sqlite"))]
        if args.postgres:
            pg = run_rollups(args.postgres, rollup_sizes, args.runs, args.seed, "postgresql")
            results.append(("PostgreSQL", pg))
        print()
        print(
            f"which-tier over rollup history: 30 min window, 24 h baseline, {args.runs} runs each"
        )
        for label, rows in results:
            print(rollup_table(label, rows))
            print()
        return
    sizes = [_size(x) for x in args.events.split(",")]
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
