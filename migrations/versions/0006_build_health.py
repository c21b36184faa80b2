"""build health rollups: build x device x OS, crash fingerprints, config hashes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "config_hashes_minute",
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("cohort", sa.String(length=128), nullable=False),
        sa.Column("config_hash", sa.String(length=128), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket_start", "tier", "cohort", "config_hash", name=op.f("pk_config_hashes_minute")
        ),
    )
    op.create_table(
        "build_crashes_hour",
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("slice_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["slice_id"], ["slices.id"], name=op.f("fk_build_crashes_hour_slice_id_slices")
        ),
        sa.PrimaryKeyConstraint(
            "bucket_start", "slice_id", "fingerprint", name=op.f("pk_build_crashes_hour")
        ),
    )
    op.create_index(
        "ix_build_crashes_hour_fingerprint", "build_crashes_hour", ["fingerprint"], unique=False
    )
    for table in ("build_error_codes_hour", "build_error_codes_minute"):
        op.create_table(
            table,
            sa.Column("bucket_start", sa.BigInteger(), nullable=False),
            sa.Column("slice_id", sa.Integer(), nullable=False),
            sa.Column("error_code", sa.String(length=64), nullable=False),
            sa.Column("events", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["slice_id"], ["slices.id"], name=op.f(f"fk_{table}_slice_id_slices")
            ),
            sa.PrimaryKeyConstraint(
                "bucket_start", "slice_id", "error_code", name=op.f(f"pk_{table}")
            ),
        )


def downgrade() -> None:
    op.drop_table("build_error_codes_minute")
    op.drop_table("build_error_codes_hour")
    op.drop_index("ix_build_crashes_hour_fingerprint", table_name="build_crashes_hour")
    op.drop_table("build_crashes_hour")
    op.drop_table("config_hashes_minute")
