"""Settings from the environment and .env, the secret key, and mail URLs."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from ciie_rsvp.config import load_or_create_secret_key
from ciie_rsvp.mailer import ConsoleTransport, FileTransport, SMTPTransport, transport_from_url


def test_dotenv_file_is_read_and_environment_wins(tmp_path):
    (tmp_path / ".env").write_text(
        "CIIE_RSVP_BASE_URL=https://from-dotenv.example.org\n"
        "CIIE_RSVP_MAIL_URL=console:\n")
    script = ("from ciie_rsvp import create_app\n"
              "app = create_app()\n"
              "print(app.config['BASE_URL'], app.config['MAIL_URL'])\n")
    env = {"PATH": "/usr/bin:/bin", "CIIE_RSVP_MAIL_URL": "smtp://127.0.0.1:2525",
           "CIIE_RSVP_INSTANCE_PATH": str(tmp_path / "inst")}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["https://from-dotenv.example.org", "smtp://127.0.0.1:2525"]


def test_the_sample_env_file_loads_the_same_in_the_shell_and_in_systemd_style(tmp_path):
    """The deploy step sources docs/deploy/env.example with ``set -a && . FILE``; an unquoted
    ``Name <address>`` once stopped the shell at that line and silently dropped the rest."""
    from pathlib import Path

    from dotenv import dotenv_values

    sample = Path(__file__).resolve().parent.parent / "docs/deploy/env.example"
    expected = dotenv_values(sample)  # what systemd's EnvironmentFile= reads, quotes removed
    assert expected["CIIE_RSVP_MAIL_FROM"] == "CIIE California Delegation <rsvp@example.org>"
    out = subprocess.run(["sh", "-ec", f"set -a; . '{sample}'; set +a; env -0"],
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    shell = dict(line.split("=", 1) for line in out.stdout.split("\0") if "=" in line)
    assert {k: shell.get(k) for k in expected} == expected


def test_secret_key_is_generated_once_and_private(tmp_path):
    first = load_or_create_secret_key(tmp_path)
    assert len(first) == 64
    assert load_or_create_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("url", "kind", "attrs"), [
    ("file:///var/mail/out", FileTransport, {"folder": "/var/mail/out"}),
    ("console:", ConsoleTransport, {}),
    ("smtp://127.0.0.1:2525", SMTPTransport,
     {"host": "127.0.0.1", "port": 2525, "security": "none", "username": None}),
    ("smtp+starttls://user%40x.org:p%3Ass@mail.example.org", SMTPTransport,
     {"port": 587, "security": "starttls", "username": "user@x.org", "password": "p:ss"}),
    ("smtps://u:p@mail.example.org:2465", SMTPTransport, {"port": 2465, "security": "ssl"}),
])
def test_mail_urls(url, kind, attrs):
    transport = transport_from_url(url)
    assert isinstance(transport, kind)
    for name, value in attrs.items():
        assert str(getattr(transport, name)) == str(value) if name == "folder" else \
            getattr(transport, name) == value


def test_unknown_mail_scheme_is_refused():
    with pytest.raises(ValueError, match="unsupported mail URL scheme"):
        transport_from_url("gopher://x")


def test_console_transport_prints_the_message():
    out = io.StringIO()
    with ConsoleTransport(out) as t:
        t.send(b"Subject: hi\r\n\r\nbody", "a@x.org", ["b@y.org"])
    assert "mail from a@x.org to b@y.org" in out.getvalue() and "Subject: hi" in out.getvalue()


@pytest.mark.parametrize(("url", "pinged"), [
    ("sqlite:////tmp/ciie.sqlite3", False),
    ("postgresql+psycopg://postgres@127.0.0.1:5432/test", True),
])
def test_only_server_connections_are_pinged_before_use(tmp_path, monkeypatch, url, pinged):
    from ciie_rsvp.config import build_config

    monkeypatch.setenv("CIIE_RSVP_DATABASE_URL", url)
    config = build_config({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is pinged
