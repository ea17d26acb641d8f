"""Events store when they end (UTC), and registration closes then at the latest.

An event without a registration closing time used to take registrations for ever: the seeded
2022 events were still open in 2026. ``ends_at`` is worked out from the last day, the end
time and the zone (the model keeps it on every write); this fills it in for existing events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00

"""
import datetime as dt
import zoneinfo

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC  # as the service reads a zone this machine does not know


def _ends_at(last_day, end_time, zone_name):
    """As ``ciie_rsvp.zones.ends_at`` (a midnight the clocks skip aside: the model
    works that one out again on the event's next write)."""
    zone = _zone(zone_name)
    if end_time is None:  # when the last day ends: the next day's first instant there
        local = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    else:
        local = dt.datetime.combine(last_day, end_time, tzinfo=zone)
    return local.astimezone(dt.UTC)


def upgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer()), sa.column("end_date", sa.Date()),
                      sa.column("end_time", sa.Time()), sa.column("timezone", sa.String(64)),
                      sa.column("ends_at", sa.DateTime(timezone=True)))
    naive = bind.dialect.name == "sqlite"  # SQLite keeps UTC without an offset
    for event_id, end_date, end_time, zone in bind.execute(
            sa.select(events.c.id, events.c.end_date, events.c.end_time, events.c.timezone)).all():
        value = _ends_at(end_date, end_time, zone)
        bind.execute(events.update().where(events.c.id == event_id).values(
            ends_at=value.replace(tzinfo=None) if naive else value))


def downgrade():
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("ends_at")
