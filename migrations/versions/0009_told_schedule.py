"""Invitations remember the days, times, zone and place their latest message stated.

So an update can say what changed ("Before: ... Now: ..."). Invitations sent before this
migration have none stored; their update states the new details only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("told_schedule", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("told_schedule")
