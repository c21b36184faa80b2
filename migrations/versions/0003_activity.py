"""activity log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:39:37.155031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index("ix_activity_at", ["at"], unique=False)
        batch_op.create_index("ix_activity_incident_id", ["incident_id"], unique=False)
        batch_op.create_index("ix_activity_kind_at", ["kind", "at"], unique=False)
        batch_op.create_index("ix_activity_subject", ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_subject")
        batch_op.drop_index("ix_activity_kind_at")
        batch_op.drop_index("ix_activity_incident_id")
        batch_op.drop_index("ix_activity_at")

    op.drop_table("activity")
