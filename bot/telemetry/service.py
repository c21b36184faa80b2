"""Telemetry services the front ends call: import a file, summarise what is stored, prune."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from bot.rollouts.models import CohortAssignment
from bot.telemetry.ingest import ingest_cohort_assignments, ingest_events
from bot.telemetry.models import DeadLetter, RollupHour, RouterEvent, Slice
from bot.telemetry.readers import CountingReader, RawRecord, iter_records, open_input
from bot.telemetry.summary import IngestSummary
from bot.timeutil import to_epoch_ms

RecordKind = Literal["router_events", "cohort_assignments"]


def ingest(
    engine: Engine,
    kind: RecordKind,
    records: Iterable[RawRecord],
    *,
    source: str,
    batch_size: int = 20_000,
) -> IngestSummary:
    """Route records of `kind` to the right ingestor."""
    if kind == "router_events":
        return ingest_events(engine, records, source=source, batch_size=batch_size)
    return ingest_cohort_assignments(engine, records, source=source)


def _reporting(
    records: Iterator[RawRecord],
    counter: CountingReader,
    progress: Callable[[int], None],
    every: int = 5000,
) -> Iterator[RawRecord]:
    for n, record in enumerate(records, start=1):
        if n % every == 0:
            progress(counter.bytes_read)
        yield record
    progress(counter.bytes_read)


def import_file(
    engine: Engine,
    kind: RecordKind,
    path: str,
    *,
    batch_size: int = 20_000,
    on_open: Callable[[int | None], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Import an NDJSON / JSON array file (gzip or not; `-` is stdin)."""
    stream, counter, size = open_input(path)
    if on_open is not None:
        on_open(size)
    try:
        records = iter_records(stream)
        if progress is not None:
            records = _reporting(records, counter, progress)
        return ingest(engine, kind, records, source=f"file:{path}", batch_size=batch_size)
    finally:
        stream.close()


@dataclass(frozen=True)
class StoredTotals:
    """What the store holds for one tier and cohort (from hour rollups, not raw events)."""

    tier: str
    cohort: str
    requests: int
    failures: int
    retries: int
    first_minute: datetime | None
    last_minute: datetime | None


def stored_totals(*, session: Session) -> list[StoredTotals]:
    """Requests and failures per tier and cohort, read from the rollups."""
    from bot.timeutil import from_epoch_s

    query = (
        select(
            Slice.tier,
            Slice.cohort,
            func.sum(RollupHour.requests),
            func.sum(RollupHour.errors + RollupHour.timeouts),
            func.sum(RollupHour.retries),
            func.min(RollupHour.bucket_start),
            func.max(RollupHour.bucket_start),
        )
        .join(Slice, Slice.id == RollupHour.slice_id)
        .group_by(Slice.tier, Slice.cohort)
        .order_by(Slice.tier, Slice.cohort)
    )
    return [
        StoredTotals(
            tier=tier,
            cohort=cohort,
            requests=int(requests or 0),
            failures=int(failures or 0),
            retries=int(retries or 0),
            first_minute=from_epoch_s(first) if first is not None else None,
            last_minute=from_epoch_s(last) if last is not None else None,
        )
        for tier, cohort, requests, failures, retries, first, last in session.execute(query)
    ]


@dataclass(frozen=True)
class StoreCounts:
    router_events: int
    cohort_assignments: int
    dead_letters: int


def store_counts(*, session: Session) -> StoreCounts:
    def count(model: type[RouterEvent] | type[CohortAssignment] | type[DeadLetter]) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return StoreCounts(count(RouterEvent), count(CohortAssignment), count(DeadLetter))


def prune_raw_events(*, session: Session, older_than: datetime) -> int:
    """Delete raw router events older than `older_than`; rollups are kept (retention)."""
    result = session.execute(delete(RouterEvent).where(RouterEvent.ts_ms < to_epoch_ms(older_than)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
