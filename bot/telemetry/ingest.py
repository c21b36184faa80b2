"""Ingest router events and cohort assignments: validate, dedupe, store, roll up, dead-letter.

One code path serves the CLI import, the HTTP push API and the pull sources. Records are taken
in batches; each batch is one transaction, so a crash never leaves half a batch behind, and good
records are stored even when their neighbours are rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select

from bot.rollouts.models import CohortAssignment, ModelBuild
from bot.telemetry import rollups
from bot.telemetry.contract import (
    EVENT_COLUMNS,
    AssignmentRecord,
    EventRow,
    InvalidRecord,
    parse_cohort_assignment,
    parse_router_event,
)
from bot.telemetry.models import DeadLetter
from bot.telemetry.readers import RawRecord
from bot.telemetry.summary import IngestSummary, Rejection
from bot.timeutil import utcnow

INGEST_LOCK_ID = 0x7469_6572  # "tier": serializes ingest across replicas on PostgreSQL
Progress = Callable[[int], None]


def _lock(conn: Connection) -> None:
    """Hold the ingest lock for this transaction (SQLite already holds its write lock)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK_ID,))


def _dead_letters(
    conn: Connection, kind: str, source: str, rejected: list[tuple[RawRecord, str]]
) -> None:
    if not rejected:
        return
    now = utcnow()
    conn.execute(
        insert(DeadLetter),
        [
            {
                "kind": kind,
                "source": source[:256],
                "line": record.line,
                "item": record.item,
                "raw": record.raw.decode("utf-8", "replace"),
                "error": error,
                "received_at": now,
            }
            for record, error in rejected
        ],
    )


_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO router_events ({','.join(EVENT_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(EVENT_COLUMNS))})"
)


def _store_events_sqlite(conn: Connection, rows: list[EventRow]) -> list[EventRow]:
    """Insert the rows that are new and return them.

    Under the write lock, rows inserted now are exactly those with a rowid above the old maximum.
    """
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        (max_before,) = cursor.execute(
            "SELECT COALESCE(MAX(rowid), 0) FROM router_events"
        ).fetchone()
        changes_before = raw.total_changes
        cursor.executemany(_SQLITE_INSERT, rows)
        if raw.total_changes - changes_before == len(rows):
            return rows
        new_keys = set(
            cursor.execute(
                "SELECT request_id, attempt FROM router_events WHERE rowid > ?", (max_before,)
            ).fetchall()
        )
    finally:
        cursor.close()
    return [row for row in rows if (row[0], row[1]) in new_keys]


def _store_events_postgresql(conn: Connection, rows: list[EventRow]) -> list[EventRow]:
    """COPY into a staging table, find what is already stored, insert the rest."""
    raw: Any = conn.connection.dbapi_connection
    columns = ",".join(EVENT_COLUMNS)
    with raw.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staging_router_events "
            "(LIKE router_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY staging_router_events ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "SELECT s.request_id, s.attempt FROM staging_router_events s "
            "JOIN router_events e ON e.request_id = s.request_id AND e.attempt = s.attempt"
        )
        existing = set(cursor.fetchall())
        cursor.execute(
            f"INSERT INTO router_events ({columns}) SELECT {columns} FROM staging_router_events "
            "ON CONFLICT DO NOTHING"
        )
    if not existing:
        return rows
    return [row for row in rows if (row[0], row[1]) not in existing]


class EventIngestor:
    """Stores router events in batches with dedupe, rollups and dead letters."""

    def __init__(self, engine: Engine, *, source: str, batch_size: int = 20_000) -> None:
        self.engine = engine
        self.slices = rollups.SliceRegistry(engine)
        self.summary = IngestSummary(kind="router_events", source=source)
        self.batch_size = batch_size
        self._rows: list[EventRow] = []
        self._keys: set[tuple[str, int]] = set()
        self._rejected: list[tuple[RawRecord, str]] = []
        self._store = (
            _store_events_postgresql
            if engine.dialect.name == "postgresql"
            else _store_events_sqlite
        )

    def feed(self, records: Iterable[RawRecord]) -> None:
        """Validate records and store them batch by batch."""
        rows, keys, summary = self._rows, self._keys, self.summary
        for record in records:
            if record.parse_error is not None:
                self._reject(
                    record, [Rejection(record.line, record.item, "(record)", record.parse_error)]
                )
                continue
            try:
                row = parse_router_event(record.value)
            except InvalidRecord as exc:
                self._reject(
                    record,
                    [Rejection(record.line, record.item, e.field, e.reason) for e in exc.errors],
                )
                continue
            key = (row[0], row[1])
            if key in keys:
                summary.duplicates += 1
                continue
            keys.add(key)
            rows.append(row)
            if len(rows) >= self.batch_size:
                self.flush()
                rows, keys = self._rows, self._keys

    def _reject(self, record: RawRecord, reasons: list[Rejection]) -> None:
        self.summary.rejected += 1
        for reason in reasons:
            self.summary.reject(reason)
        self._rejected.append((record, "; ".join(str(r) for r in reasons)))
        if len(self._rejected) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Store the pending batch in one transaction."""
        rows, rejected = self._rows, self._rejected
        self._rows, self._keys, self._rejected = [], set(), []
        if not rows and not rejected:
            return
        keys = [rollups.slice_key(row) for row in rows]
        self.slices.resolve(keys)
        with self.engine.begin() as conn:
            _lock(conn)
            new_rows = self._store(conn, rows) if rows else []
            if len(new_rows) != len(rows):
                new_set = {(r[0], r[1]) for r in new_rows}
                keys = [k for r, k in zip(rows, keys, strict=True) if (r[0], r[1]) in new_set]
            minutes = rollups.aggregate(new_rows, keys, self.slices.cache)
            rollups.write(conn, minutes, 60)
            rollups.write(conn, rollups.coarsen(minutes, 3600), 3600)
            _dead_letters(conn, "router_event", self.summary.source, rejected)
        self.summary.stored += len(new_rows)
        self.summary.duplicates += len(rows) - len(new_rows)

    def finish(self) -> IngestSummary:
        self.flush()
        return self.summary


def ingest_events(
    engine: Engine, records: Iterable[RawRecord], *, source: str, batch_size: int = 20_000
) -> IngestSummary:
    """Store router events from `records`; see `EventIngestor`."""
    ingestor = EventIngestor(engine, source=source, batch_size=batch_size)
    ingestor.feed(records)
    return ingestor.finish()


def _same_assignment(stored: CohortAssignment, new: AssignmentRecord) -> bool:
    return (
        stored.model_id == new.model_id
        and stored.quantization == new.quantization
        and stored.rollout_percent == new.rollout_percent
        and (stored.residency, stored.residency_given) == (new.residency, new.residency_given)
        and (stored.config_hash, stored.config_hash_given)
        == (new.config_hash, new.config_hash_given)
    )


def ingest_cohort_assignments(
    engine: Engine, records: Iterable[RawRecord], *, source: str, batch_size: int = 5_000
) -> IngestSummary:
    """Store cohort assignments; the same (cohort, tier, effective_at) twice stores one.

    A record that names an existing key with different content is rejected rather than
    silently dropped: history does not change behind anyone's back.
    """
    summary = IngestSummary(kind="cohort_assignments", source=source)
    batch: list[tuple[RawRecord, AssignmentRecord]] = []
    rejected: list[tuple[RawRecord, str]] = []

    def reject(record: RawRecord, reasons: list[Rejection]) -> None:
        summary.rejected += 1
        for reason in reasons:
            summary.reject(reason)
        rejected.append((record, "; ".join(str(r) for r in reasons)))

    def flush() -> None:
        if not batch and not rejected:
            return
        now = utcnow()
        with engine.begin() as conn:
            _lock(conn)
            seen: dict[tuple[str, str, datetime], AssignmentRecord] = {}
            for raw, record in batch:
                key = (record.cohort, record.tier, record.effective_at)
                stored = seen.get(key) or _stored_assignment(conn, key)
                if stored is not None:
                    if _matches(stored, record):
                        summary.duplicates += 1
                    else:
                        reject(
                            raw, [Rejection(raw.line, raw.item, "effective_at", _conflict(stored))]
                        )
                    continue
                conn.execute(
                    insert(CohortAssignment).values(**_assignment_values(record, source, now))
                )
                _register_build(conn, record, now)
                seen[key] = record
                summary.stored += 1
            _dead_letters(conn, "cohort_assignment", source, rejected)
        batch.clear()
        rejected.clear()

    for raw in records:
        if raw.parse_error is not None:
            reject(raw, [Rejection(raw.line, raw.item, "(record)", raw.parse_error)])
            continue
        try:
            batch.append((raw, parse_cohort_assignment(raw.value)))
        except InvalidRecord as exc:
            reject(raw, [Rejection(raw.line, raw.item, e.field, e.reason) for e in exc.errors])
        if len(batch) + len(rejected) >= batch_size:
            flush()
    flush()
    return summary


def _stored_assignment(conn: Connection, key: tuple[str, str, datetime]) -> CohortAssignment | None:
    cohort, tier, effective_at = key
    row = conn.execute(
        select(CohortAssignment.__table__).where(
            CohortAssignment.cohort == cohort,
            CohortAssignment.tier == tier,
            CohortAssignment.effective_at == effective_at,
        )
    ).first()
    return CohortAssignment(**row._asdict()) if row is not None else None


def _matches(stored: CohortAssignment | AssignmentRecord, new: AssignmentRecord) -> bool:
    if isinstance(stored, AssignmentRecord):
        return stored == new
    return _same_assignment(stored, new)


def _conflict(stored: CohortAssignment | AssignmentRecord) -> str:
    return (
        f"an assignment for cohort {stored.cohort!r} on {stored.tier} at this effective_at "
        f"already exists with model_id {stored.model_id!r} and different fields; "
        "send a new assignment with a later effective_at instead"
    )


def _assignment_values(record: AssignmentRecord, source: str, now: datetime) -> dict[str, Any]:
    return {
        "cohort": record.cohort,
        "tier": record.tier,
        "model_id": record.model_id,
        "effective_at": record.effective_at,
        "quantization": record.quantization,
        "rollout_percent": record.rollout_percent,
        "residency": record.residency,
        "residency_given": record.residency_given,
        "config_hash": record.config_hash,
        "config_hash_given": record.config_hash_given,
        "extra": record.extra,
        "source": source[:256],
        "received_at": now,
    }


def _register_build(conn: Connection, record: AssignmentRecord, now: datetime) -> None:
    """Remember a build the first time an assignment names it."""
    exists = conn.execute(
        select(ModelBuild.model_id).where(ModelBuild.model_id == record.model_id)
    ).first()
    if exists is None:
        conn.execute(
            insert(ModelBuild).values(
                model_id=record.model_id,
                tier=record.tier,
                quantization=record.quantization,
                first_seen_at=now,
            )
        )


def records_from_values(values: Iterable[Any], *, start_line: int = 1) -> Iterable[RawRecord]:
    """Wrap already-parsed values (e.g. from the simulator) as records numbered by line."""
    for line, value in enumerate(values, start=start_line):
        yield RawRecord(line=line, item=None, raw=orjson.dumps(value), value=value)
