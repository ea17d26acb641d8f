"""Migration 0002 upgrades and downgrades cleanly (on each backend)."""

from __future__ import annotations

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ciie_rsvp.extensions import db

NEW_TABLES = {"login_throttle", "organizer_notes", "export_log", "import_batches"}


def test_0002_downgrade_and_upgrade_again(app):
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) >= NEW_TABLES
        db.session.remove()
        downgrade(revision="0001")
        tables = set(inspect(db.engine).get_table_names())
        assert not tables & NEW_TABLES and "registrations" in tables
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= NEW_TABLES
