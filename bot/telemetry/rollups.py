"""Per-minute and per-hour rollups per tier and slice, maintained as events arrive.

Questions read these, never raw events, so their cost grows with the window asked about and
not with history. Each rollup row is (bucket_start, slice_id) -> counts and a sparse latency
histogram; slices live in their own table and are cached per engine.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, ClassVar

import orjson
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.buildhealth import rollups as build_rollups
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

    def fields(self) -> tuple[int, int, int, int, float, float, dict[int, int]]:
        """The values `Counts(*fields)` is made from (for marshal, which knows no classes)."""
        return (
            self.requests, self.errors, self.timeouts, self.retries, self.latency_sum_ms,
            self.latency_max_ms, self.histogram,
        )  # fmt: skip


def slice_key(row: EventRow) -> SliceKey:
    return (row[3], row[4], row[5], row[9] or "", row[10] or "", row[11] or "", row[12] or "")


#: (minute since the epoch, tier, model_id, cohort, region, device_class, os_version,
#: app_version) as the event has them, None included: what `group` files rows under.
GroupKey = tuple[int, str, str, str, str | None, str | None, str | None, str | None]


def group(rows: Iterable[EventRow]) -> dict[GroupKey, list[EventRow]]:
    """File rows by minute and slice dimensions, in order: the one Python loop per event.

    Everything else about a rollup (counts, sums, histograms) is then computed per group by
    C loops (`map`, `list.count`, `sum`), and slice keys are built once per group, not per row.
    """
    groups: dict[GroupKey, list[EventRow]] = {}
    get = groups.get
    for row in rows:
        key = (row[2] // 60_000, row[3], row[4], row[5], row[9], row[10], row[11], row[12])
        members = get(key)
        if members is None:
            groups[key] = [row]
        else:
            members.append(row)
    return groups


def group_slice_key(key: GroupKey) -> SliceKey:
    """The slice of a group: missing dimensions become '' (as `slice_key`)."""
    return (key[1], key[2], key[3], key[4] or "", key[5] or "", key[6] or "", key[7] or "")


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


class _BucketIndexes(dict[float, int]):
    """latency -> histogram bucket, computed once per distinct latency (they repeat a lot)."""

    def __missing__(self, latency: float) -> int:
        index = self[latency] = bucket_index(latency)
        return index


_bucket_indexes = _BucketIndexes()
_ATTEMPT, _OUTCOME, _LATENCY = itemgetter(1), itemgetter(6), itemgetter(7)


def _counts(rows: list[EventRow]) -> Counts:
    """One group's counts, each computed by a C loop over the group."""
    n = len(rows)
    outcomes = list(map(_OUTCOME, rows))
    latencies = list(map(_LATENCY, rows))
    indexes = list(map(_bucket_indexes.__getitem__, latencies))
    if len(_bucket_indexes) > 100_000:
        _bucket_indexes.clear()
    top = max(latencies)
    return Counts(
        requests=n,
        errors=outcomes.count("error"),
        timeouts=outcomes.count("timeout"),
        retries=n - list(map(_ATTEMPT, rows)).count(0),
        latency_sum_ms=sum(latencies, 0.0),  # in arrival order (3.12+: compensated, closer)
        latency_max_ms=top if top > 0.0 else 0.0,
        histogram={index: indexes.count(index) for index in sorted(set(indexes))},
    )


Minutes = dict[tuple[int, int], Counts]  # (bucket_start, slice_id) -> counts
SliceIds = dict[SliceKey, int]


def roll_up(
    slices: SliceRegistry, rows: list[EventRow]
) -> tuple[Minutes, SliceIds, build_rollups.Extras]:
    """Minute counts of `rows` as if all are new, the ids of the slices they are in, and the
    build health counters of the same groups (`bot.buildhealth.rollups`)."""
    groups = group(rows)
    keys = {group_slice_key(key) for key in groups}
    slices.resolve(keys)
    ids = {key: slices.cache[key] for key in keys}
    return aggregate(groups, ids), ids, build_rollups.aggregate(groups, ids)


def aggregate(groups: dict[GroupKey, list[EventRow]], slice_ids: SliceIds) -> Minutes:
    """Minute counts per (bucket_start, slice_id) of grouped rows (see `group`)."""
    out: dict[tuple[int, int], Counts] = {}
    for key, rows in groups.items():
        bucket = (key[0] * 60, slice_ids[group_slice_key(key)])
        counts = _counts(rows)
        total = out.get(bucket)
        if total is None:
            out[bucket] = counts
        else:  # region None and region '' are one slice
            total.add(counts)
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
    """{"3": 5, "12": 1}: keys as strings in numeric order (the format stored since 0001)."""
    return orjson.dumps(dict(sorted(histogram.items())), option=orjson.OPT_NON_STR_KEYS).decode()


def parse_histogram(text: str) -> dict[int, int]:
    return {int(k): v for k, v in orjson.loads(text).items()}


_COLUMNS = (
    "bucket_start", "slice_id", "requests", "errors", "timeouts", "retries",
    "latency_sum_ms", "latency_max_ms", "histogram",
)  # fmt: skip
_UPDATED = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[2:])


def write(conn: Connection, deltas: dict[tuple[int, int], Counts], resolution: int) -> None:
    """Add `deltas` to the rollup table of `resolution` seconds (read, merge, upsert).

    Callers hold the ingest lock (SQLite's write lock, PostgreSQL's advisory lock), so the
    read-modify-write cannot interleave with another writer. Plain SQL on the driver's cursor,
    the same on both backends: it runs for every batch, and SQLAlchemy's per-row work showed.
    """
    if not deltas:
        return
    table = _ROLLUP_TABLES[resolution].name
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    dbapi: Any = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        stored = _stored(cursor, table, mark, deltas)
        values: list[tuple[Any, ...]] = []
        for key, delta in deltas.items():
            total = stored.get(key)
            if total is None:
                total = delta
            else:
                total.add(delta)
            values.append(_row(key, total))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(_COLUMNS))}) "
            f"ON CONFLICT (bucket_start, slice_id) DO UPDATE SET {_UPDATED}",
            values,
        )
    finally:
        cursor.close()


def _stored(
    cursor: Any, table: str, mark: str, deltas: dict[tuple[int, int], Counts]
) -> dict[tuple[int, int], Counts]:
    """The stored counts of the rows `deltas` will add to."""
    out: dict[tuple[int, int], Counts] = {}
    for chunk in _chunks(sorted({start for start, _ in deltas}), 500):
        cursor.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {table} "
            f"WHERE bucket_start IN ({', '.join([mark] * len(chunk))})",
            tuple(chunk),
        )
        for r in cursor.fetchall():
            key = (r[0], r[1])
            if key in deltas:
                out[key] = Counts(r[2], r[3], r[4], r[5], r[6], r[7], parse_histogram(r[8]))
    return out


def _row(key: tuple[int, int], c: Counts) -> tuple[Any, ...]:
    """The row of `_COLUMNS` that stores `c` under `key`."""
    return (
        *key, c.requests, c.errors, c.timeouts, c.retries,
        c.latency_sum_ms, c.latency_max_ms, _histogram_json(c.histogram),
    )  # fmt: skip


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
