"""decontamination: registered evaluation sets and their hashed n-gram indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate references sqlmodel.sql.sqltypes.AutoString)
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "decontam_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("file_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("normalisation", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("skipped_short", sa.Integer(), nullable=False),
        sa.Column("ngrams", sa.BigInteger(), nullable=False),
        sa.Column("index_path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("index_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decontam_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decontam_sets_name"), ["name"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("decontam_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decontam_sets_name"))
    op.drop_table("decontam_sets")
