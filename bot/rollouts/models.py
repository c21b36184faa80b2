"""Model builds and cohort assignments: which build each cohort runs, since when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class ModelBuild(Base):
    """A model build tierbot knows of: named by an assignment or registered for probing."""

    __tablename__ = "model_builds"

    model_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tier: Mapped[str] = mapped_column(String(8))
    quantization: Mapped[str | None] = mapped_column(String(32))
    file_path: Mapped[str | None] = mapped_column(Text, doc="Local path or URL of the model file.")
    sha256: Mapped[str | None] = mapped_column(String(64))
    reference_model_id: Mapped[str | None] = mapped_column(String(128))
    golden_set: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CohortAssignment(Base):
    """From `effective_at` on, the cohort's traffic on `tier` runs `model_id`.

    `residency` and `config_hash` carry over from the previous assignment when a record leaves
    them out; `residency_given` / `config_hash_given` remember whether the field was present, so
    an explicit null ("anywhere") is not confused with "absent".
    """

    __tablename__ = "cohort_assignments"
    __table_args__ = (
        UniqueConstraint("cohort", "tier", "effective_at", name="uq_cohort_assignments_key"),
        Index("ix_cohort_assignments_effective_at", "effective_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cohort: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[str] = mapped_column(String(128))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    quantization: Mapped[str | None] = mapped_column(String(32))
    rollout_percent: Mapped[float] = mapped_column(Float, default=100.0)
    residency: Mapped[str | None] = mapped_column(String(32))
    residency_given: Mapped[bool] = mapped_column(Boolean, default=False)
    config_hash: Mapped[str | None] = mapped_column(String(128))
    config_hash_given: Mapped[bool] = mapped_column(Boolean, default=False)
    extra: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
