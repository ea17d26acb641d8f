"""Events count changes to their date, time or place; invitations remember which one they told.

``events.schedule_revision`` goes up whenever an admin changes the event's days, times, time
zone or place. ``invitations.schedule_revision`` is the revision the invitee's latest message
carried, so the console knows who still has the old details in their calendar, and the
calendar files' SEQUENCE grows with each change (calendar apps then replace the entry).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 11:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("events", "invitations"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("schedule_revision", sa.Integer(), nullable=False,
                                          server_default="0"))


def downgrade():
    for table in ("invitations", "events"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("schedule_revision")
