"""Registrations remember when their personal data was erased (CCPA deletion, retention purge).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:56:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"  # after the invitations migration (0001 -> 0002 -> 0003 -> 0004)
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
