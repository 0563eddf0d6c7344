"""audit log append-only on Postgres: triggers refuse UPDATE, DELETE and TRUNCATE of events,
and moving the head backwards

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:45:00

The database cannot stop its owner: the table owner can `ALTER TABLE audit_events DISABLE
TRIGGER ...` and a superuser can `SET session_replication_role = replica`. That is why a
reviewer saves the head elsewhere (`govcat audit head`) and checks it later
(`govcat audit verify --expect-head`); see docs/architecture.md, "The audit log". SQLite has
no such guard.
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = [
    """CREATE FUNCTION govcat_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'the govcat audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
    END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION govcat_audit_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION govcat_audit_append_only()""",
    """CREATE FUNCTION govcat_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'the govcat audit head only moves forward: % refused', TG_OP;
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION govcat_audit_head_forward()""",
]
DOWN = [
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
    "DROP FUNCTION IF EXISTS govcat_audit_head_forward()",
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "DROP FUNCTION IF EXISTS govcat_audit_append_only()",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in UP:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in DOWN:
        op.execute(statement)
