"""Alembic migrations: upgrade and downgrade both work, and the models match the schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from ciie_rsvp import create_app
from ciie_rsvp.extensions import db
from tests.conftest import temporary_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mig.sqlite3'}"
        return
    with temporary_pg_database("ciie_rsvp_mig") as url:
        yield url


def test_upgrade_downgrade_upgrade_and_no_drift(empty_database, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "m"})
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"events", "registrations", "organizers", "audit_log", "outbox"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        db.engine.dispose()
