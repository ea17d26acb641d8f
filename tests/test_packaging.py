"""The wheel carries the templates and migrations, and runs without the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                    "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    [whl] = out.glob("ciie_rsvp-*.whl")
    return whl


def test_wheel_contains_templates_migrations_and_static(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("ciie_rsvp/templates/base.html",
                     "ciie_rsvp/templates/registration/register.html",
                     "ciie_rsvp/templates/email/registration_received.txt",
                     "ciie_rsvp/migrations/env.py",
                     "ciie_rsvp/migrations/alembic.ini",
                     "ciie_rsvp/migrations/versions/0001_foundation.py",
                     "ciie_rsvp/static/app.css",
                     "ciie_rsvp/translations/zh_Hans/LC_MESSAGES/messages.mo"):
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_migrates_and_serves_without_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "from ciie_rsvp import create_app\n"
        "from ciie_rsvp.cli import prepare_database\n"
        "app = create_app()\n"
        f"assert app.template_folder.startswith({str(site)!r}), app.template_folder\n"
        "print(prepare_database(app, seed=True))\n"
        "c = app.test_client()\n"
        "r = c.get('/')\n"
        "assert r.status_code == 200 and 'Meet in Shanghai' in r.get_data(as_text=True)\n"
        "assert c.get('/events/ciie-2022/register').status_code == 403\n"  # over: closed
        "from ciie_rsvp.extensions import db\n"
        "from ciie_rsvp.models import Event\n"
        "import datetime as dt\n"
        "with app.app_context():\n"
        "    e = db.session.scalar(db.select(Event).where(Event.slug == 'ciie-2022'))\n"
        "    e.start_date, e.end_date = dt.date(2030, 11, 5), dt.date(2030, 11, 10)\n"
        "    db.session.commit()\n"
        "assert c.get('/events/ciie-2022/register').status_code == 200\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "CIIE_RSVP_INSTANCE_PATH": str(tmp_path / "i"),
           "CIIE_RSVP_PUBLIC_EVENT_CACHE_MS": "0"}  # the moved event shows at once
    env.pop("CIIE_RSVP_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "meet-in-shanghai-2022" in result.stdout and result.stdout.strip().endswith("ok")
