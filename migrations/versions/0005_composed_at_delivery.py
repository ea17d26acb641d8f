"""Outbox rows may be written at delivery: ``raw`` becomes optional, ``compose`` says what to write.

A registrant's confirmation is queued with its Message-ID, envelope and subject, and the
delivery worker writes the body when it first claims the row (the web request no longer
renders and encodes the email).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 00:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compose", sa.Text(), nullable=True))
        batch_op.alter_column("raw", existing_type=sa.LargeBinary(), nullable=True)


def downgrade():
    # Rows not written yet cannot be sent by the older code: fail them with the reason
    # (organizers see it) rather than send an empty message.
    outbox = sa.table("outbox", sa.column("raw", sa.LargeBinary()),
                      sa.column("compose", sa.Text()), sa.column("status", sa.String(16)),
                      sa.column("last_error", sa.Text()))
    op.execute(outbox.update().where(outbox.c.raw.is_(None)).values(
        raw=b"", status="failed",
        last_error="not written before a downgrade of the database; send it again"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("compose")
