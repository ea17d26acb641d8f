"""Audit entries may be about an event (its history on the settings page).

Who created it, changed which setting from what to what, sent its invitations or its
schedule update.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_audit_log_event_id_events", "events", ["event_id"],
                                    ["id"], ondelete="CASCADE")
        batch_op.create_index("ix_audit_log_event_id", ["event_id"])


def downgrade():
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_event_id")
        batch_op.drop_constraint("fk_audit_log_event_id_events", type_="foreignkey")
        batch_op.drop_column("event_id")
