"""Ingest benchmark: `tierbot import events` against a plain json + executemany baseline.

    .venv/bin/python bench/ingest.py [--events N] [--seed S] [--runs K] [--keep DIR]
                                     [--postgres postgresql+psycopg://user@host:port/db]

Events come from the traffic simulator (bot.sandbox.traffic) at a realistic density: a
population of devices (5000 by default) whose turns are spread over `--minutes` of traffic,
so the rollups have far fewer rows than there are events. The NDJSON file is written first;
only imports are timed.

- tierbot: `tierbot import events FILE --json` as a subprocess, its start-up included, into a
  fresh store whose schema was created beforehand (`tierbot db upgrade`, not timed). That is
  the whole path: read, validate against the contract, dedupe, store, minute and hour rollups.
- baseline: in this process, stdlib `json.loads` of each line and `executemany` of the values
  into a table with router_events' columns and primary key, in transactions of the same size
  as tierbot's (20,000) and, on SQLite, with the store's settings (WAL, synchronous=NORMAL).
  No validation, no rollups, no duplicate accounting; `ts` is stored as the text it was
  (in the ts_ms column; text-typed on PostgreSQL), not parsed.

With `--postgres URL` both run again on PostgreSQL, each in a scratch database created next to
the one URL names (`<name>_bench_tierbot`, `<name>_bench_baseline`) and dropped afterwards.
Each of `--runs` runs starts from fresh stores; the table shows the median.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

TIERBOT = Path(sys.executable).with_name("tierbot")
BATCH = 20_000
FIELDS = (
    "request_id", "attempt", "ts", "tier", "model_id", "cohort", "outcome", "latency_ms",
    "error_code", "region", "device_class", "os_version", "app_version", "config_hash",
    "crash_fingerprint",
)  # fmt: skip


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds, and the CPU seconds spent in them (by tierbot's processes, or by
    the baseline's: not the PostgreSQL server's)."""

    wall: float
    cpu: float


class _Clock:
    """Times a block: wall clock, this process's CPU and its waited-for children's."""

    def __enter__(self) -> _Clock:
        self._wall, self._own, self._children = time.perf_counter(), time.process_time(), _cpu()
        return self

    def __exit__(self, *_: object) -> None:
        self.own = Timing(time.perf_counter() - self._wall, time.process_time() - self._own)
        self.children = Timing(self.own.wall, _cpu() - self._children)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Density:
    events: int
    devices: int
    minutes: float
    slices: int = 0
    minute_rows: int = 0
    hour_rows: int = 0


def generate(path: Path, n: int, seed: int, devices: int, minutes: float) -> Density:
    """Write `n` simulated router events, in time order, as NDJSON."""
    from bot.sandbox.traffic import Population, Simulator

    end = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    start = end - timedelta(minutes=minutes)
    sim = Simulator(
        Population.default(seed, devices=devices), seed=seed, start=start,
        end=end + timedelta(minutes=minutes / 10),  # Poisson: a little extra, then cut at n
        rate_per_minute=n / minutes,
    )  # fmt: skip
    first = last = ""
    written = 0
    with path.open("wb") as out:
        events = itertools.islice(sim.events(), n)
        while chunk := list(itertools.islice(events, 10_000)):
            first = first or str(chunk[0]["ts"])
            last = str(chunk[-1]["ts"])
            out.write(b"\n".join(map(orjson.dumps, chunk)) + b"\n")
            written += len(chunk)
    span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    return Density(written, devices, span.total_seconds() / 60)


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "TIERBOT_DATABASE_URL": url, "TIERBOT_CONFIG_FILE": os.devnull}


def time_tierbot(events: Path, url: str) -> tuple[Timing, dict[str, Any]]:
    """Create the schema (untimed), then time the CLI import; returns its timing and summary."""
    subprocess.run([TIERBOT, "db", "upgrade"], env=_env(url), check=True, capture_output=True)
    with _Clock() as clock:
        done = subprocess.run(
            [TIERBOT, "import", "events", str(events), "--json"],
            env=_env(url), capture_output=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tierbot import failed ({done.returncode}): {done.stderr.decode()}")
    return clock.children, orjson.loads(done.stdout)


def _baseline_rows(events: Path) -> Iterator[list[tuple[Any, ...]]]:
    """json.loads per line, the contract's fields as a tuple (+ extra), in batches."""
    batch: list[tuple[Any, ...]] = []
    with events.open("rb") as lines:
        for line in lines:
            record = json.loads(line)
            batch.append((*(record.get(name) for name in FIELDS), None))
            if len(batch) == BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _router_events_ddl(tierbot_db: Path) -> str:
    with sqlite3.connect(tierbot_db) as conn:
        (ddl,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'router_events'"
        ).fetchone()
    return str(ddl)


def time_sqlite_baseline(events: Path, db: Path, ddl: str) -> Timing:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(ddl)
    insert = f"INSERT INTO router_events VALUES ({', '.join('?' * (len(FIELDS) + 1))})"
    with _Clock() as clock:
        for batch in _baseline_rows(events):
            conn.execute("BEGIN")
            conn.executemany(insert, batch)
            conn.execute("COMMIT")
    conn.close()
    return clock.own


def sqlite_density(db: Path, density: Density) -> None:
    with sqlite3.connect(db) as conn:
        density.slices = conn.execute("SELECT COUNT(*) FROM slices").fetchone()[0]
        density.minute_rows, requests = conn.execute(
            "SELECT COUNT(*), SUM(requests) FROM rollup_minute"
        ).fetchone()
        density.hour_rows = conn.execute("SELECT COUNT(*) FROM rollup_hour").fetchone()[0]
    if requests != density.events:
        raise SystemExit(f"minute rollups count {requests} requests, not {density.events}")


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg(url: str) -> str:
    """The libpq form of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _scratch_db(url: str, suffix: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database beside the one `url` names; returns its URL and a dropper."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0] + suffix

    def run(sql: str) -> None:
        with psycopg.connect(_pg(url), autocommit=True) as conn:
            conn.execute(sql)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    return _with_db(url, name), lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def time_postgres_baseline(events: Path, url: str, ddl_from: str) -> Timing:
    """Plain psycopg executemany into a table with router_events' columns and primary key."""
    import psycopg

    with psycopg.connect(_pg(ddl_from)) as source:
        columns = source.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'router_events' ORDER BY ordinal_position"
        ).fetchall()
    ddl = ", ".join(
        f"{name} {'text' if name == 'ts_ms' else kind}{' NOT NULL' if nullable == 'NO' else ''}"
        for name, kind, nullable in columns
    )
    with psycopg.connect(_pg(url)) as conn:
        conn.execute(f"CREATE TABLE router_events ({ddl}, PRIMARY KEY (request_id, attempt))")
        conn.commit()
        insert = f"INSERT INTO router_events VALUES ({', '.join(['%s'] * (len(FIELDS) + 1))})"
        with _Clock() as clock:
            for batch in _baseline_rows(events):
                with conn.cursor() as cursor:
                    cursor.executemany(insert, batch)
                conn.commit()
        return clock.own


# --- the run ---------------------------------------------------------------------------------


Pair = tuple[Timing, Timing]  # tierbot, baseline


def run_sqlite(events: Path, work: Path, density: Density) -> Pair:
    tierbot_db, baseline_db = work / "tierbot.db", work / "baseline.db"
    for db in (tierbot_db, baseline_db):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    timing, summary = time_tierbot(events, f"sqlite:///{tierbot_db}")
    if summary["stored"] != density.events:
        raise SystemExit(f"tierbot stored {summary['stored']} of {density.events} events")
    sqlite_density(tierbot_db, density)
    return timing, time_sqlite_baseline(events, baseline_db, _router_events_ddl(tierbot_db))


def run_postgres(events: Path, url: str, density: Density) -> Pair:
    tierbot_url, drop_tierbot = _scratch_db(url, "_bench_tierbot")
    baseline_url, drop_baseline = _scratch_db(url, "_bench_baseline")
    try:
        timing, summary = time_tierbot(events, tierbot_url)
        if summary["stored"] != density.events:
            raise SystemExit(f"tierbot stored {summary['stored']} of {density.events} events")
        return timing, time_postgres_baseline(events, baseline_url, tierbot_url)
    finally:
        drop_tierbot()
        drop_baseline()


def startup_seconds(work: Path) -> float:
    """How long `tierbot import events` takes on an empty file: the CLI's fixed cost."""
    empty, db = work / "empty.ndjson", work / "startup.db"
    empty.write_bytes(b"")
    url = f"sqlite:///{db}"
    return statistics.median(time_tierbot(empty, url)[0].wall for _ in range(3))


def _median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings)
    )


def report(density: Density, results: dict[str, list[Pair]], runs: int, startup: float) -> str:
    n = density.events
    lines = [
        f"router events: {n:,} from {density.devices:,} simulated devices over "
        f"{density.minutes:.0f} min of traffic",
        f"density: {density.slices:,} slices, {density.minute_rows:,} minute rollup rows "
        f"({n / max(density.minute_rows, 1):.0f} events per row), {density.hour_rows:,} hour rows",
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, load average {os.getloadavg()[0]:.1f} at the end; "
        f"median of {runs} run(s); tierbot's times include its CLI start-up "
        f"({startup:.2f} s on an empty file), its CPU that of its writer process too",
        "",
        "| backend    | tierbot events/s | baseline events/s | ratio | tierbot s (CPU) "
        "| baseline s (CPU) |",
        "|------------|-----------------:|------------------:|------:|----------------:"
        "|-----------------:|",
    ]
    for backend, pairs in results.items():
        ours, base = _median([t for t, _ in pairs]), _median([b for _, b in pairs])
        lines.append(
            f"| {backend:<10} | {n / ours.wall:>16,.0f} | {n / base.wall:>17,.0f} | "
            f"{base.wall / ours.wall:>5.2f} | {ours.wall:>6.2f} ({ours.cpu:5.2f}) | "
            f"{base.wall:>7.2f} ({base.cpu:5.2f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=90.0, help="span of simulated traffic")
    parser.add_argument("--runs", type=int, default=1, help="runs per backend; median shown")
    parser.add_argument("--keep", type=Path, help="keep the NDJSON and SQLite files here")
    parser.add_argument("--postgres", help="also measure on this PostgreSQL (SQLAlchemy URL)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="tierbot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        events = work / "events.ndjson"
        print(f"generating {args.events:,} events into {events} ...", file=sys.stderr)
        density = generate(events, args.events, args.seed, args.devices, args.minutes)
        results: dict[str, list[Pair]] = {"sqlite": []}
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}: sqlite", file=sys.stderr)
            results["sqlite"].append(run_sqlite(events, work, density))
            if args.postgres:
                print(f"run {run + 1}/{args.runs}: postgresql", file=sys.stderr)
                results.setdefault("postgresql", []).append(
                    run_postgres(events, args.postgres, density)
                )
        print(report(density, results, args.runs, startup_seconds(work)))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
