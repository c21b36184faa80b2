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


class RollbackRequest(Base):
    """A request to move a cohort back to an earlier build, and everything that happened to it.

    `state` only moves by conditional updates: requested -> approved -> executing -> executed |
    failed, or requested -> rejected | expired. `open_cohort` equals `cohort` while the request
    is open (requested, approved, executing) and is NULL after: its unique constraint is what
    stops two concurrent requests for one cohort from both opening, on every backend.
    The `from_*` columns freeze the assignment the rollback replaces.
    """

    __tablename__ = "rollback_requests"
    __table_args__ = (
        UniqueConstraint("open_cohort", name="uq_rollback_requests_open_cohort"),
        Index("ix_rollback_requests_state", "state"),
        Index("ix_rollback_requests_cohort", "cohort"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), doc="rollback or killswitch.")
    cohort: Mapped[str] = mapped_column(String(128))
    open_cohort: Mapped[str | None] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(8))
    from_model_id: Mapped[str] = mapped_column(String(128))
    from_effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_rollout_percent: Mapped[float] = mapped_column(Float)
    from_config_hash: Mapped[str | None] = mapped_column(String(128))
    target_model_id: Mapped[str] = mapped_column(String(128))
    target_config_hash: Mapped[str | None] = mapped_column(String(128))
    percent: Mapped[int] = mapped_column(Integer, doc="The first step's rollout percent.")
    applied_percent: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(128))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    killswitch_build: Mapped[str | None] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stepped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    probes_ok: Mapped[bool | None] = mapped_column(Boolean)
    verify_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified: Mapped[bool | None] = mapped_column(Boolean)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verification: Mapped[str | None] = mapped_column(Text, doc="JSON: the numbers it judged.")
    channel_ref: Mapped[str | None] = mapped_column(
        String(128), doc="The approval message in the DRI channel (a notifier's thread ref)."
    )
    dm_refs: Mapped[str | None] = mapped_column(
        Text, doc="The approval DMs, space-separated thread refs."
    )
