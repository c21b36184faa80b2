"""Probe results (history), alert state per target, and the lease that picks the probe runner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class ProbeRun(Base):
    """One probe of one target; `checks` is the JSON of the named checks with their numbers."""

    __tablename__ = "probe_results"
    __table_args__ = (
        Index("ix_probe_results_target_started", "target", "started_at"),
        Index("ix_probe_results_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(8))
    ok: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[float] = mapped_column(Float)
    checks: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str] = mapped_column(String(128), doc="The process that ran the probe.")


class ProbeAlert(Base):
    """The alert state machine of one target, shared by every replica.

    `state` follows the probe results with hysteresis; `announced_state` is what the alert
    channel was last told. A notifier claims the difference with a conditional UPDATE, so each
    state change is announced once however many replicas look.
    """

    __tablename__ = "probe_alerts"

    target: Mapped[str] = mapped_column(String(200), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(8), doc="ok or open")
    announced_state: Mapped[str] = mapped_column(String(8))
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    consecutive_passes: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, doc="Bumped by every update (optimistic lock).")
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    thread_ref: Mapped[str | None] = mapped_column(String(256))
    last_result_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProbeLease(Base):
    """Who runs the scheduled probes until `expires_at`; the holder renews it while alive."""

    __tablename__ = "probe_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
