"""Per-minute and per-hour rollups per tier and slice, maintained as events arrive.

Questions read these, never raw events, so their cost grows with the window asked about and
not with history. Each rollup row is (bucket_start, slice_id) -> counts and a sparse latency
histogram; slices live in their own table and are cached per engine.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.telemetry.contract import EventRow
from bot.telemetry.histogram import bucket_index, merge_into
from bot.telemetry.models import SLICE_DIMENSIONS, RollupHour, RollupMinute, Slice

SliceKey = tuple[str, str, str, str, str, str, str]  # tier + SLICE_DIMENSIONS, '' for missing
_ROLLUP_TABLES: dict[int, Table] = {
    60: RollupMinute.__table__,  # type: ignore[dict-item]
    3600: RollupHour.__table__,  # type: ignore[dict-item]
}


@dataclass(slots=True)
class Counts:
    """What one rollup row holds; addable."""

    requests: int = 0
    errors: int = 0
    timeouts: int = 0
    retries: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.retries += other.retries
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_max_ms = max(self.latency_max_ms, other.latency_max_ms)
        merge_into(self.histogram, other.histogram)

    @property
    def failures(self) -> int:
        """Errors as the budgets count them: outcome `error` or `timeout`."""
        return self.errors + self.timeouts


def slice_key(row: EventRow) -> SliceKey:
    return (row[3], row[4], row[5], row[9] or "", row[10] or "", row[11] or "", row[12] or "")


class SliceRegistry:
    """Maps slice keys to ids; one cache per engine, filled from the table on first use."""

    _caches: ClassVar[weakref.WeakKeyDictionary[Engine, dict[SliceKey, int]]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        cache = self._caches.get(engine)
        if cache is None:
            cache = self._load()
            self._caches[engine] = cache
        self.cache = cache

    def _load(self) -> dict[SliceKey, int]:
        columns = [Slice.tier, *(getattr(Slice, name) for name in SLICE_DIMENSIONS)]
        with self.engine.connect() as conn:
            return {tuple(r[1:]): r[0] for r in conn.execute(select(Slice.id, *columns))}

    def resolve(self, keys: Iterable[SliceKey]) -> None:
        """Make sure every key has an id, creating missing slices in their own transaction.

        Slices are harmless dimension rows, so they commit before the events that use them:
        the cache then never holds an id that a rolled-back transaction took away.
        """
        missing = {key for key in keys if key not in self.cache}
        if not missing:
            return
        names = ("tier", *SLICE_DIMENSIONS)
        values = [dict(zip(names, key, strict=True)) for key in missing]
        with self.engine.begin() as conn:
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(insert(Slice).on_conflict_do_nothing(), values)
        self.cache.update(self._load())


def aggregate(
    rows: Sequence[EventRow], keys: Sequence[SliceKey], slice_ids: dict[SliceKey, int]
) -> dict[tuple[int, int], Counts]:
    """Minute counts per (bucket_start, slice_id) for `rows` (keys[i] is rows[i]'s slice)."""
    out: dict[tuple[int, int], Counts] = {}
    for row, key in zip(rows, keys, strict=True):
        bucket = (row[2] // 60_000 * 60, slice_ids[key])
        counts = out.get(bucket)
        if counts is None:
            counts = out[bucket] = Counts()
        counts.requests += 1
        outcome = row[6]
        if outcome != "ok":
            if outcome == "error":
                counts.errors += 1
            else:
                counts.timeouts += 1
        if row[1]:
            counts.retries += 1
        latency = row[7]
        counts.latency_sum_ms += latency
        if latency > counts.latency_max_ms:
            counts.latency_max_ms = latency
        index = bucket_index(latency)
        histogram = counts.histogram
        histogram[index] = histogram.get(index, 0) + 1
    return out


def coarsen(minutes: dict[tuple[int, int], Counts], seconds: int) -> dict[tuple[int, int], Counts]:
    """Fold minute counts into buckets of `seconds` (3600 for the hour rollup)."""
    out: dict[tuple[int, int], Counts] = {}
    for (start, slice_id), counts in minutes.items():
        key = (start - start % seconds, slice_id)
        total = out.get(key)
        if total is None:
            total = out[key] = Counts()
        total.add(counts)
    return out


def _histogram_json(histogram: dict[int, int]) -> str:
    return orjson.dumps({str(k): v for k, v in sorted(histogram.items())}).decode()


def parse_histogram(text: str) -> dict[int, int]:
    return {int(k): v for k, v in orjson.loads(text).items()}


def write(conn: Connection, deltas: dict[tuple[int, int], Counts], resolution: int) -> None:
    """Add `deltas` to the rollup table of `resolution` seconds (read, merge, upsert).

    Callers hold the ingest lock (SQLite's write lock, PostgreSQL's advisory lock), so the
    read-modify-write cannot interleave with another writer.
    """
    if not deltas:
        return
    table = _ROLLUP_TABLES[resolution]
    starts = sorted({start for start, _ in deltas})
    existing: dict[tuple[int, int], Counts] = {}
    for chunk in _chunks(starts, 500):
        result = conn.execute(select(table).where(table.c.bucket_start.in_(chunk)))
        for r in result:
            key = (r.bucket_start, r.slice_id)
            if key in deltas:
                existing[key] = Counts(
                    r.requests, r.errors, r.timeouts, r.retries, r.latency_sum_ms,
                    r.latency_max_ms, parse_histogram(r.histogram),
                )  # fmt: skip
    values: list[dict[str, Any]] = []
    for key, delta in deltas.items():
        total = existing.get(key)
        if total is None:
            total = delta
        else:
            total.add(delta)
        values.append(
            {
                "bucket_start": key[0],
                "slice_id": key[1],
                "requests": total.requests,
                "errors": total.errors,
                "timeouts": total.timeouts,
                "retries": total.retries,
                "latency_sum_ms": total.latency_sum_ms,
                "latency_max_ms": total.latency_max_ms,
                "histogram": _histogram_json(total.histogram),
            }
        )
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    updated = {
        name: statement.excluded[name]
        for name in (
            "requests",
            "errors",
            "timeouts",
            "retries",
            "latency_sum_ms",
            "latency_max_ms",
            "histogram",
        )
    }
    conn.execute(
        statement.on_conflict_do_update(index_elements=["bucket_start", "slice_id"], set_=updated),
        values,
    )


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
