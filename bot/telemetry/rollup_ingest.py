"""Ingest pre-aggregated rollups: a resend of a minute x slice by a source replaces, never adds.

Collectors retry, and re-aggregate late data: what they expect of a resend is that it *replaces*
what they sent before for that minute and slice. Each source's last counts are kept in
`rollup_submissions`; storing a record takes its old counts out of the minute (and hour) rollup
and puts the new ones in, in one transaction under the ingest lock, so events, other sources
and replicas that write the same rows never interleave with it. Different sources for the same
minute and slice add up (two collectors, each for part of the fleet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select, text

from bot.telemetry.contract import InvalidRecord
from bot.telemetry.ingest import INGEST_LOCK_ID
from bot.telemetry.models import DeadLetter, RollupHour, RollupMinute
from bot.telemetry.readers import RawRecord, iter_records, open_input
from bot.telemetry.rollup_contract import DEFAULT_SOURCE, RollupRecord, parse_rollup
from bot.telemetry.rollup_models import RollupSubmission
from bot.telemetry.rollups import Counts, SliceRegistry, parse_histogram
from bot.telemetry.summary import IngestSummary, Rejection
from bot.timeutil import utcnow

KIND = "router_rollups"
#: Minute rollups (and submissions) older than this are pruned daily; hour rollups stay. Long
#: enough for postmortems at minute resolution and for any collector's resends.
Key = tuple[int, int]  # (bucket_start, slice_id)
_COUNT_COLUMNS = (
    "requests", "errors", "timeouts", "retries", "latency_sum_ms", "latency_max_ms", "histogram",
)  # fmt: skip


def ingest_rollups(
    engine: Engine,
    records: Iterable[RawRecord],
    *,
    source: str,
    collector: str = DEFAULT_SOURCE,
    batch_size: int = 5_000,
) -> IngestSummary:
    """Validate and store rollup records; `collector` is the source of records naming none.

    `source` says where the input came from (`http:…`, `file:…`) for the summary and the dead
    letters; the replace-on-resend identity is the record's `source` field or `collector`.
    """
    summary = IngestSummary(kind=KIND, source=source)
    slices = SliceRegistry(engine)
    batch: list[RollupRecord] = []
    letters: list[tuple[RawRecord, str]] = []

    def flush() -> None:
        stored, unchanged = store_rollups(
            engine, batch, slices=slices, letters=letters, letter_source=source
        )
        summary.stored += stored
        summary.duplicates += unchanged
        batch.clear()
        letters.clear()

    for raw in records:
        if raw.parse_error is not None:
            reasons = [Rejection(raw.line, raw.item, "(record)", raw.parse_error)]
        else:
            try:
                batch.append(parse_rollup(raw.value, collector))
                reasons = []
            except InvalidRecord as exc:
                reasons = [Rejection(raw.line, raw.item, e.field, e.reason) for e in exc.errors]
        if reasons:
            summary.rejected += 1
            for reason in reasons:
                summary.reject(reason)
            letters.append((raw, "; ".join(str(r) for r in reasons)))
        if len(batch) + len(letters) >= batch_size:
            flush()
    flush()
    return summary


def import_rollup_file(
    engine: Engine, path: str, *, collector: str = DEFAULT_SOURCE, batch_size: int = 5_000
) -> IngestSummary:
    """Import an NDJSON / JSON array file of rollup records (gzip or not; `-` is stdin)."""
    stream, _, _ = open_input(path)
    try:
        return ingest_rollups(
            engine, iter_records(stream), source=f"file:{path}", collector=collector,
            batch_size=batch_size,
        )  # fmt: skip
    finally:
        stream.close()


def store_rollups(
    engine: Engine,
    records: Sequence[RollupRecord],
    *,
    slices: SliceRegistry | None = None,
    letters: Sequence[tuple[RawRecord, str]] = (),
    letter_source: str = "",
) -> tuple[int, int]:
    """Store records in one transaction; returns (stored, unchanged resends)."""
    if not records and not letters:
        return 0, 0
    registry = slices or SliceRegistry(engine)
    registry.resolve({r.key for r in records})
    wanted: dict[tuple[int, int, str], Counts] = {}
    for r in records:  # the last record for a key wins, as a resend would
        wanted[(r.minute, registry.cache[r.key], r.source[:80])] = r.counts
    now = utcnow()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK_ID,))
        stored, unchanged = _apply(conn, wanted, now)
        if letters:
            conn.execute(
                insert(DeadLetter),
                [
                    {"kind": "router_rollup", "source": letter_source[:256], "line": raw.line,
                     "item": raw.item, "raw": raw.raw.decode("utf-8", "replace"), "error": error,
                     "received_at": now}
                    for raw, error in letters
                ],
            )  # fmt: skip
    return stored + len(records) - len(wanted), unchanged


def _apply(
    conn: Connection, wanted: dict[tuple[int, int, str], Counts], now: datetime
) -> tuple[int, int]:
    keys = {(b, s) for b, s, _ in wanted}
    submitted: dict[Key, dict[str, Counts]] = {}
    sub_table = RollupSubmission.__table__
    for row in _rows_for(conn, sub_table, keys):
        submitted.setdefault((row.bucket_start, row.slice_id), {})[row.source] = _counts(row)
    minutes = {
        (r.bucket_start, r.slice_id): _counts(r)
        for r in _rows_for(conn, RollupMinute.__table__, keys)
    }
    changes: dict[Key, tuple[Counts, Counts]] = {}  # minute: (before, after)
    sub_rows: list[dict[str, Any]] = []
    unchanged = 0
    for (bucket, slice_id, source), counts in wanted.items():
        old = submitted.setdefault((bucket, slice_id), {})
        if old.get(source) == counts:
            unchanged += 1
            continue
        before = minutes.get((bucket, slice_id)) or Counts()
        events = _events_part(before, list(old.values()))
        old[source] = counts
        after = _total(events, list(old.values()))
        changes[(bucket, slice_id)] = (changes.get((bucket, slice_id), (before, after))[0], after)
        minutes[(bucket, slice_id)] = after
        sub_rows.append(
            {"bucket_start": bucket, "slice_id": slice_id, "source": source}
            | _values(counts)
            | {"received_at": now}
        )
    if not sub_rows:
        return 0, unchanged
    _upsert(conn, RollupSubmission.__tablename__, ("bucket_start", "slice_id", "source"), sub_rows)
    minute_rows = [
        {"bucket_start": b, "slice_id": s, **_values(new)} for (b, s), (_, new) in changes.items()
    ]
    _upsert(conn, RollupMinute.__tablename__, ("bucket_start", "slice_id"), minute_rows)
    _update_hours(conn, changes)
    return len(sub_rows), unchanged


def _events_part(minute: Counts, submissions: list[Counts]) -> Counts:
    """What of a minute row did not come from submissions (i.e. from events)."""
    rest = Counts(
        minute.requests - sum(c.requests for c in submissions),
        minute.errors - sum(c.errors for c in submissions),
        minute.timeouts - sum(c.timeouts for c in submissions),
        minute.retries - sum(c.retries for c in submissions),
        minute.latency_sum_ms - sum(c.latency_sum_ms for c in submissions),
        0.0,
        dict(minute.histogram),
    )
    if rest.requests <= 0:
        return Counts()
    for c in submissions:
        for index, n in c.histogram.items():
            rest.histogram[index] = rest.histogram.get(index, 0) - n
    rest.histogram = {i: n for i, n in rest.histogram.items() if n > 0}
    if minute.latency_max_ms > max((c.latency_max_ms for c in submissions), default=0.0):
        rest.latency_max_ms = minute.latency_max_ms  # an event holds the maximum
    return rest


def _total(events: Counts, submissions: list[Counts]) -> Counts:
    total = Counts()
    for part in (events, *submissions):
        total.add(part)
    return total


def _update_hours(conn: Connection, changes: dict[Key, tuple[Counts, Counts]]) -> None:
    """Move each changed minute's difference into its hour row."""
    hours: dict[Key, list[tuple[Counts, Counts]]] = {}
    for (bucket, slice_id), change in changes.items():
        hours.setdefault((bucket - bucket % 3600, slice_id), []).append(change)
    stored = {
        (r.bucket_start, r.slice_id): _counts(r)
        for r in _rows_for(conn, RollupHour.__table__, set(hours))
    }
    rows = []
    for (hour, slice_id), minute_changes in hours.items():
        total = stored.get((hour, slice_id)) or Counts()
        lowered = False
        for before, after in minute_changes:
            lowered |= after.latency_max_ms < before.latency_max_ms >= total.latency_max_ms
            for index, n in before.histogram.items():
                total.histogram[index] = total.histogram.get(index, 0) - n
            total.add(
                Counts(
                    after.requests - before.requests,
                    after.errors - before.errors,
                    after.timeouts - before.timeouts,
                    after.retries - before.retries,
                    after.latency_sum_ms - before.latency_sum_ms,
                    after.latency_max_ms,
                    after.histogram,
                )
            )
        total.histogram = {i: n for i, n in total.histogram.items() if n > 0}
        if lowered:  # the old maximum may be gone: take it again from the minutes
            total.latency_max_ms = float(
                conn.execute(
                    text(
                        "SELECT COALESCE(MAX(latency_max_ms), 0) FROM rollup_minute "
                        "WHERE slice_id = :s AND bucket_start >= :a AND bucket_start < :b"
                    ),
                    {"s": slice_id, "a": hour, "b": hour + 3600},
                ).scalar_one()
            )
        rows.append({"bucket_start": hour, "slice_id": slice_id, **_values(total)})
    _upsert(conn, RollupHour.__tablename__, ("bucket_start", "slice_id"), rows)


def _rows_for(conn: Connection, table: Any, keys: set[Key]) -> list[Any]:
    """Rows of `table` at the given (bucket_start, slice_id) keys (any source)."""
    out: list[Any] = []
    buckets = sorted({b for b, _ in keys})
    ids = sorted({s for _, s in keys})
    for i in range(0, len(buckets), 500):
        chunk = buckets[i : i + 500]
        query = select(table).where(table.c.bucket_start.in_(chunk))
        if len(ids) <= 500:
            query = query.where(table.c.slice_id.in_(ids))
        out.extend(r for r in conn.execute(query) if (r.bucket_start, r.slice_id) in keys)
    return out


def _counts(row: Any) -> Counts:
    return Counts(
        row.requests, row.errors, row.timeouts, row.retries, row.latency_sum_ms,
        row.latency_max_ms, parse_histogram(row.histogram),
    )  # fmt: skip


def _values(c: Counts) -> dict[str, Any]:
    histogram = orjson.dumps(dict(sorted(c.histogram.items())), option=orjson.OPT_NON_STR_KEYS)
    return {
        "requests": c.requests, "errors": c.errors, "timeouts": c.timeouts, "retries": c.retries,
        "latency_sum_ms": c.latency_sum_ms, "latency_max_ms": c.latency_max_ms,
        "histogram": histogram.decode(),
    }  # fmt: skip


def _upsert(conn: Connection, table: str, key: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    conn.execute(
        text(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        ),
        rows,
    )


def prune_minute_rollups(engine: Engine, *, older_than: datetime) -> int:
    """Delete minute rollups and submissions before `older_than` (whole hours); hours stay.

    Questions about a pruned hour are answered from the hour rollup only. A resend of a pruned
    minute is stored as new (its submission is gone), so the retention must stay longer than
    any collector's resend horizon.
    """
    cutoff = int(older_than.timestamp()) // 3600 * 3600
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK_ID,))
        removed = conn.execute(
            text("DELETE FROM rollup_minute WHERE bucket_start < :c"), {"c": cutoff}
        )
        conn.execute(text("DELETE FROM rollup_submissions WHERE bucket_start < :c"), {"c": cutoff})
    return int(removed.rowcount or 0)
