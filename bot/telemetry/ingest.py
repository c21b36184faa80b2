"""Ingest router events and cohort assignments: validate, dedupe, store, roll up, dead-letter.

One code path serves the CLI import, the HTTP push API and the pull sources. Records are taken
in batches; each batch is one transaction, so a crash never leaves half a batch behind, and good
records are stored even when their neighbours are rejected. Past the first batch, a writer
process stores batch n while this one parses batch n+1 (see `_Writer`).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
from sqlalchemy import Connection, Engine, insert, select

from bot.buildhealth import rollups as build_rollups
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


def _lock(conn: Connection) -> None:
    """Hold the ingest lock for this transaction (SQLite already holds its write lock)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK_ID,))


#: A rejected record as the dead-letter table keeps it: line, item, raw text, why.
Letter = tuple[int | None, int | None, bytes, str]
Rollup = tuple[rollups.Minutes, rollups.SliceIds, build_rollups.Extras]


def _letter(record: RawRecord, error: str) -> Letter:
    return (record.line, record.item, record.raw, error)


def _dead_letters(conn: Connection, kind: str, source: str, letters: list[Letter]) -> None:
    if not letters:
        return
    now = utcnow()
    conn.execute(
        insert(DeadLetter),
        [
            {
                "kind": kind,
                "source": source[:256],
                "line": line,
                "item": item,
                "raw": raw.decode("utf-8", "replace"),
                "error": error,
                "received_at": now,
            }
            for line, item, raw, error in letters
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


def _write_batch(
    engine: Engine, source: str, rows: list[EventRow], rolled: Rollup, letters: list[Letter],
) -> tuple[int, int]:  # fmt: skip
    """Store one batch in one transaction: new events, their rollups, the dead letters.

    Returns (stored, duplicates); rows already in the store are duplicates, and then the
    rollups are counted again from the new rows only.
    """
    minutes, slice_ids, extras = rolled
    store = (
        _store_events_postgresql if engine.dialect.name == "postgresql" else _store_events_sqlite
    )
    with engine.begin() as conn:
        _lock(conn)
        new_rows = store(conn, rows) if rows else []
        if len(new_rows) != len(rows):
            groups = rollups.group(new_rows)
            minutes = rollups.aggregate(groups, slice_ids)
            extras = build_rollups.aggregate(groups, slice_ids)
        rollups.write(conn, minutes, 60)
        rollups.write(conn, rollups.coarsen(minutes, 3600), 3600)
        build_rollups.write(conn, extras)
        _dead_letters(conn, "router_event", source, letters)
    return len(new_rows), len(rows) - len(new_rows)


class EventIngestor:
    """Stores router events in batches with dedupe, rollups and dead letters.

    With `parallel` (and a database another process can open), the first batch is stored here
    while a writer process starts, and the writer stores each later one while this process
    reads, checks and rolls up the next.
    """

    def __init__(
        self, engine: Engine, *, source: str, batch_size: int = 20_000, parallel: bool = True
    ) -> None:
        self.engine = engine
        self.slices = rollups.SliceRegistry(engine)
        self.summary = IngestSummary(kind="router_events", source=source)
        self.batch_size = batch_size
        self._rows: list[EventRow] = []
        self._keys: set[tuple[str, int]] = set()
        self._letters: list[Letter] = []
        self._parallel = parallel and _shareable(engine)
        self._writer: _Writer | None = None

    def feed(self, records: Iterable[RawRecord]) -> None:
        """Validate records and store them batch by batch.

        This loop runs once per event: names are bound to locals, and a duplicate inside the
        batch costs one set insertion (the set's size tells whether the key was new).
        """
        parse, summary, batch_size = parse_router_event, self.summary, self.batch_size
        rows, keys = self._rows, self._keys
        for record in records:
            if record.parse_error is not None:
                self._reject(
                    record, [Rejection(record.line, record.item, "(record)", record.parse_error)]
                )
                rows, keys = self._rows, self._keys  # a flush starts new ones
                continue
            try:
                row = parse(record.value)
            except InvalidRecord as exc:
                self._reject(
                    record,
                    [Rejection(record.line, record.item, e.field, e.reason) for e in exc.errors],
                )
                rows, keys = self._rows, self._keys
                continue
            known = len(keys)
            keys.add((row[0], row[1]))
            if len(keys) == known:
                summary.duplicates += 1
                continue
            rows.append(row)
            if len(rows) >= batch_size:
                self.flush()
                rows, keys = self._rows, self._keys

    def _reject(self, record: RawRecord, reasons: list[Rejection]) -> None:
        self.summary.rejected += 1
        for reason in reasons:
            self.summary.reject(reason)
        self._letters.append(_letter(record, "; ".join(str(r) for r in reasons)))
        if len(self._letters) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Store the pending batch in one transaction (in the writer process, if one runs)."""
        rows, letters = self._rows, self._letters
        self._rows, self._keys, self._letters = [], set(), []
        if not rows and not letters:
            return
        rolled = rollups.roll_up(self.slices, rows)
        if self._writer is not None:
            self._count(self._writer.result())  # of the batch before this one
            self._writer.submit(rows, rolled, letters)
            return
        if self._parallel:  # more batches follow: the writer starts while this one is stored
            self._writer = _Writer(self.engine, self.summary.source)
        self._count(_write_batch(self.engine, self.summary.source, rows, rolled, letters))

    def _count(self, result: tuple[int, int]) -> None:
        self.summary.stored += result[0]
        self.summary.duplicates += result[1]

    def finish(self) -> IngestSummary:
        """Store what is pending and wait until every batch is stored."""
        self._parallel = False  # no writer is worth starting for the last batch
        self.flush()
        if self._writer is not None:
            self._count(self._writer.result())
            self.abandon()
        return self.summary

    def abandon(self) -> None:
        """Stop the writer, if any: it commits the batch it has (or not: one transaction)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()


def ingest_events(
    engine: Engine,
    records: Iterable[RawRecord],
    *,
    source: str,
    batch_size: int = 20_000,
    parallel: bool = True,
) -> IngestSummary:
    """Store router events from `records`; see `EventIngestor`."""
    ingestor = EventIngestor(engine, source=source, batch_size=batch_size, parallel=parallel)
    try:
        ingestor.feed(records)
        return ingestor.finish()
    finally:
        ingestor.abandon()


def _shareable(engine: Engine) -> bool:
    """Whether another process can open the database: all but SQLite in memory."""
    database = engine.url.database or ""
    in_memory = not database or ":memory:" in database or "mode=memory" in str(engine.url)
    return engine.dialect.name != "sqlite" or not in_memory


class _Writer:
    """A child process that runs `_write_batch` while the parent reads and checks the next batch.

    Storing (SQLite's inserts and commit, the rollup upserts) takes about half of an import's
    CPU time: in a second process it overlaps with the parsing on a second core. One batch is in
    flight at a time, so batches still commit in order, each in one transaction. The child is a
    plain `python -c` (multiprocessing's spawn would import the CLI's __main__ again); batches
    go over pipes as marshal frames: the same interpreter reads them, and marshal writes tuples
    of str, int, float and None ~4x faster than pickle (in the parent, the busier process).
    """

    def __init__(self, engine: Engine, source: str) -> None:
        root = str(Path(__file__).resolve().parents[2])  # where `bot` is, for the child
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from bot.telemetry.ingest import _serve; _serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._to, self._from = self._process.stdin, self._process.stdout
        self._in_flight = False
        _send(self._to, (engine.url.render_as_string(hide_password=False), source))

    def submit(self, rows: list[EventRow], rolled: Rollup, letters: list[Letter]) -> None:
        minutes = {key: counts.fields() for key, counts in rolled[0].items()}
        _send(self._to, (rows, minutes, rolled[1], rolled[2], letters))
        self._in_flight = True

    def result(self) -> tuple[int, int]:
        """(stored, duplicates) of the batch in flight, (0, 0) if none."""
        if not self._in_flight:
            return (0, 0)
        self._in_flight = False
        reply = _receive(self._from)
        if reply is None:
            raise RuntimeError(f"the ingest writer process died (exit {self._process.wait()})")
        if reply[0] != "ok":
            raise RuntimeError(f"the ingest writer could not store a batch: {reply[1]}")
        return reply[1], reply[2]

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._to.close()  # the end of its input: the child exits
        self._process.wait()


def _send(pipe: IO[bytes], message: Any) -> None:
    data = marshal.dumps(message)
    pipe.write(len(data).to_bytes(8, "little"))
    pipe.write(data)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> Any:
    """The next marshal frame from `pipe`, or None at its end."""
    header = pipe.read(8)
    if len(header) < 8:
        return None
    return marshal.loads(pipe.read(int.from_bytes(header, "little")))


def _serve() -> None:
    """The writer process: store each batch read from stdin, answer on stdout."""
    from bot.db import make_engine

    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the replies
    first = _receive(sys.stdin.buffer)
    if first is None:
        return
    url, source = first
    engine = make_engine(url)
    while (batch := _receive(sys.stdin.buffer)) is not None:
        rows, minutes, slice_ids, extras, letters = batch
        rolled = ({key: rollups.Counts(*c) for key, c in minutes.items()}, slice_ids, extras)
        try:
            reply: tuple[Any, ...] = ("ok", *_write_batch(engine, source, rows, rolled, letters))
        except Exception as exc:  # the parent raises it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        _send(replies, reply)
    engine.dispose()


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
    rejected: list[Letter] = []

    def reject(record: RawRecord, reasons: list[Rejection]) -> None:
        summary.rejected += 1
        for reason in reasons:
            summary.reject(reason)
        rejected.append(_letter(record, "; ".join(str(r) for r in reasons)))

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
