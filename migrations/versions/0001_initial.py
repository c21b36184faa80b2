"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 17:47:08.226367
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "cohort_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cohort", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quantization", sa.String(length=32), nullable=True),
        sa.Column("rollout_percent", sa.Float(), nullable=False),
        sa.Column("residency", sa.String(length=32), nullable=True),
        sa.Column("residency_given", sa.Boolean(), nullable=False),
        sa.Column("config_hash", sa.String(length=128), nullable=True),
        sa.Column("config_hash_given", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_assignments")),
        sa.UniqueConstraint("cohort", "tier", "effective_at", name="uq_cohort_assignments_key"),
    )
    with op.batch_alter_table("cohort_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_cohort_assignments_effective_at", ["effective_at"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=256), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("item", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_dead_letters_received_at", ["received_at"], unique=False)

    op.create_table(
        "model_builds",
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("quantization", sa.String(length=32), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("reference_model_id", sa.String(length=128), nullable=True),
        sa.Column("golden_set", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_model_builds")),
    )
    op.create_table(
        "pull_cursors",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("records_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_pull_cursors")),
    )
    op.create_table(
        "router_events",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("cohort", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("device_class", sa.String(length=64), nullable=True),
        sa.Column("os_version", sa.String(length=64), nullable=True),
        sa.Column("app_version", sa.String(length=64), nullable=True),
        sa.Column("config_hash", sa.String(length=128), nullable=True),
        sa.Column("crash_fingerprint", sa.String(length=128), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "attempt", name=op.f("pk_router_events")),
    )
    op.create_table(
        "slices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("model_id", sa.String(length=128), nullable=False),
        sa.Column("cohort", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("device_class", sa.String(length=64), nullable=False),
        sa.Column("os_version", sa.String(length=64), nullable=False),
        sa.Column("app_version", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slices")),
        sa.UniqueConstraint(
            "tier",
            "model_id",
            "cohort",
            "region",
            "device_class",
            "os_version",
            "app_version",
            name="uq_slices_key",
        ),
    )
    op.create_table(
        "rollup_hour",
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("histogram", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slice_id"], ["slices.id"], name=op.f("fk_rollup_hour_slice_id_slices")
        ),
        sa.PrimaryKeyConstraint("bucket_start", "slice_id", name=op.f("pk_rollup_hour")),
    )
    with op.batch_alter_table("rollup_hour", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_hour_slice", ["slice_id", "bucket_start"], unique=False)

    op.create_table(
        "rollup_minute",
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("histogram", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slice_id"], ["slices.id"], name=op.f("fk_rollup_minute_slice_id_slices")
        ),
        sa.PrimaryKeyConstraint("bucket_start", "slice_id", name=op.f("pk_rollup_minute")),
    )
    with op.batch_alter_table("rollup_minute", schema=None) as batch_op:
        batch_op.create_index("ix_rollup_minute_slice", ["slice_id", "bucket_start"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("rollup_minute", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_minute_slice")

    op.drop_table("rollup_minute")
    with op.batch_alter_table("rollup_hour", schema=None) as batch_op:
        batch_op.drop_index("ix_rollup_hour_slice")

    op.drop_table("rollup_hour")
    op.drop_table("slices")
    op.drop_table("router_events")
    op.drop_table("pull_cursors")
    op.drop_table("model_builds")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_received_at")

    op.drop_table("dead_letters")
    with op.batch_alter_table("cohort_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_cohort_assignments_effective_at")

    op.drop_table("cohort_assignments")
