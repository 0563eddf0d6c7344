"""drop ix_documents_source_id: ix_documents_source_host (source_id, host) serves it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 07:25:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One index fewer to maintain on every bulk insert of document rows.
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_source_id")


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index("ix_documents_source_id", ["source_id"], unique=False)
