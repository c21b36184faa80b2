"""scale-out: covering rollup indexes, per-source rollup submissions (pre-aggregated ingest)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SLICE_COUNTS = [
    "slice_id", "bucket_start", "requests", "errors", "timeouts", "retries", "latency_sum_ms",
    "latency_max_ms",
]  # fmt: skip


def upgrade() -> None:
    # Per-slice reads become index-only: the (slice_id, bucket_start) indexes grow the counts.
    for table in ("rollup_minute", "rollup_hour"):
        op.create_index(f"ix_{table}_slice_counts", table, SLICE_COUNTS)
        op.drop_index(f"ix_{table}_slice", table_name=table)
    op.create_table(
        "rollup_submissions",
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("timeouts", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("histogram", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["slice_id"], ["slices.id"]),
        sa.PrimaryKeyConstraint("bucket_start", "slice_id", "source"),
    )


def downgrade() -> None:
    op.drop_table("rollup_submissions")
    for table in ("rollup_minute", "rollup_hour"):
        op.create_index(f"ix_{table}_slice", table, ["slice_id", "bucket_start"])
        op.drop_index(f"ix_{table}_slice_counts", table_name=table)
