"""Stored telemetry: raw router events, slices, minute and hour rollups, dead letters, cursors.

Times of high-volume rows are integers (epoch milliseconds for events, epoch seconds for
rollup buckets): compact, exact, fast to compare, and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime

SLICE_DIMENSIONS: tuple[str, ...] = (
    "model_id",
    "cohort",
    "region",
    "device_class",
    "os_version",
    "app_version",
)


class RouterEvent(Base):
    """One attempt by one tier at one assistant turn, exactly as the router reported it."""

    __tablename__ = "router_events"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    attempt: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, doc="Event time, epoch milliseconds UTC.")
    tier: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[str] = mapped_column(String(128))
    cohort: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(8))
    latency_ms: Mapped[float] = mapped_column(Float)
    error_code: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    device_class: Mapped[str | None] = mapped_column(String(64))
    os_version: Mapped[str | None] = mapped_column(String(64))
    app_version: Mapped[str | None] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(128))
    crash_fingerprint: Mapped[str | None] = mapped_column(String(128))
    extra: Mapped[str | None] = mapped_column(
        Text, doc="Properties outside the contract, as JSON, so nothing sent is lost."
    )


class Slice(Base):
    """One combination of tier and slice dimensions; rollups refer to it by id.

    Missing dimensions are stored as '' so the unique constraint holds on every backend
    (PostgreSQL treats NULLs as distinct).
    """

    __tablename__ = "slices"
    __table_args__ = (UniqueConstraint("tier", *SLICE_DIMENSIONS, name="uq_slices_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tier: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[str] = mapped_column(String(128))
    cohort: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(64))
    device_class: Mapped[str] = mapped_column(String(64))
    os_version: Mapped[str] = mapped_column(String(64))
    app_version: Mapped[str] = mapped_column(String(64))


class _RollupColumns:
    """Counts for one slice over one bucket of time."""

    bucket_start: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, doc="Start of the bucket, epoch seconds UTC."
    )
    slice_id: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer, doc="Outcome 'error'.")
    timeouts: Mapped[int] = mapped_column(Integer, doc="Outcome 'timeout'.")
    retries: Mapped[int] = mapped_column(
        Integer, doc="Attempts > 0: on cloud, turns that fell back from edge."
    )
    latency_sum_ms: Mapped[float] = mapped_column(Float)
    latency_max_ms: Mapped[float] = mapped_column(Float)
    histogram: Mapped[str] = mapped_column(
        Text, doc="Sparse latency histogram as JSON {bucket index: count}; see rollups.py."
    )


#: Window reads (`bucket_start` range) use the primary key (bucket_start, slice_id). Reads of a
#: few slices (onset series, burn rates and totals of a suspect, build-health cells) use this
#: covering index: its count columns answer them from the index alone (EXPLAIN: "COVERING
#: INDEX" on SQLite, "Index Only Scan" on PostgreSQL), see migration 0007.
_SLICE_COUNTS = (
    "slice_id", "bucket_start", "requests", "errors", "timeouts", "retries", "latency_sum_ms",
    "latency_max_ms",
)  # fmt: skip


class RollupMinute(_RollupColumns, Base):
    __tablename__ = "rollup_minute"
    __table_args__ = (Index("ix_rollup_minute_slice_counts", *_SLICE_COUNTS),)


class RollupHour(_RollupColumns, Base):
    """The same counts per hour, so 24-hour baselines read 60x fewer rows."""

    __tablename__ = "rollup_hour"
    __table_args__ = (Index("ix_rollup_hour_slice_counts", *_SLICE_COUNTS),)


class DeadLetter(Base):
    """A record that was rejected, kept with the reason so nothing sent is lost."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(256))
    line: Mapped[int | None] = mapped_column(Integer)
    item: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PullCursor(Base):
    """Where a pull source left off, so a restart resumes instead of re-reading."""

    __tablename__ = "pull_cursors"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    records_total: Mapped[int] = mapped_column(BigInteger, default=0)
