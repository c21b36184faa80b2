"""rollback requests, decisions and executions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollback_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cohort", sa.String(length=128), nullable=False),
        sa.Column("open_cohort", sa.String(length=128), nullable=True),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("from_model_id", sa.String(length=128), nullable=False),
        sa.Column("from_effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_rollout_percent", sa.Float(), nullable=False),
        sa.Column("from_config_hash", sa.String(length=128), nullable=True),
        sa.Column("target_model_id", sa.String(length=128), nullable=False),
        sa.Column("target_config_hash", sa.String(length=128), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("applied_percent", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(length=128), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("killswitch_build", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stepped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("probes_ok", sa.Boolean(), nullable=True),
        sa.Column("verify_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification", sa.Text(), nullable=True),
        sa.Column("channel_ref", sa.String(length=128), nullable=True),
        sa.Column("dm_refs", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollback_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_rollback_requests_idempotency_key")),
        # Open requests hold their cohort here: one open request per cohort, on every backend.
        sa.UniqueConstraint("open_cohort", name="uq_rollback_requests_open_cohort"),
    )
    with op.batch_alter_table("rollback_requests", schema=None) as batch_op:
        batch_op.create_index("ix_rollback_requests_cohort", ["cohort"], unique=False)
        batch_op.create_index("ix_rollback_requests_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_rollback_requests_state")
        batch_op.drop_index("ix_rollback_requests_cohort")
    op.drop_table("rollback_requests")
