"""Slack deliveries seen, shared by every replica

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_deliveries",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_slack_deliveries")),
    )
    op.create_index("ix_slack_deliveries_seen_at", "slack_deliveries", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slack_deliveries_seen_at", table_name="slack_deliveries")
    op.drop_table("slack_deliveries")
