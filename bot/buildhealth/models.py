"""Build health rollups: error codes per slice, crash fingerprints per slice, config hashes.

They sit beside the minute and hour rollups (same bucket times, the same `slices` ids, so a
cell of the matrix is a set of slices) and are written by ingest in the same transaction, from
newly stored events only. Retention prunes raw events, never these.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base


class _ErrorCodeColumns:
    """How many events of one slice reported one error code in one bucket."""

    bucket_start: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, doc="Start of the bucket, epoch seconds UTC."
    )
    slice_id: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)
    error_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class ErrorCodeMinute(_ErrorCodeColumns, Base):
    __tablename__ = "build_error_codes_minute"


class ErrorCodeHour(_ErrorCodeColumns, Base):
    """The same per hour: a day's matrix reads 60x fewer rows."""

    __tablename__ = "build_error_codes_hour"


class CrashHour(Base):
    """Events of one slice that carried one crash fingerprint, per hour, first and last seen."""

    __tablename__ = "build_crashes_hour"
    __table_args__ = (Index("ix_build_crashes_hour_fingerprint", "fingerprint"),)

    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slice_id: Mapped[int] = mapped_column(ForeignKey("slices.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)
    first_ms: Mapped[int] = mapped_column(BigInteger, doc="First event, epoch milliseconds UTC.")
    last_ms: Mapped[int] = mapped_column(BigInteger, doc="Last event, epoch milliseconds UTC.")


class ConfigHashMinute(Base):
    """Requests per cohort and tier running one config hash ('' when none was reported)."""

    __tablename__ = "config_hashes_minute"

    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tier: Mapped[str] = mapped_column(String(8), primary_key=True)
    cohort: Mapped[str] = mapped_column(String(128), primary_key=True)
    config_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
