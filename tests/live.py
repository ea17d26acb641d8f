"""Run the real service (``ciie-rsvp serve``, gunicorn) in a subprocess and talk HTTP to it."""

from __future__ import annotations

import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import form_fields, free_port


@contextmanager
def live_server(database_url: str, instance: Path, *, workers: int = 2,
                extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``ciie-rsvp serve`` on a free loopback port; yield its base URL."""
    port = free_port()
    env = {**os.environ, "CIIE_RSVP_DATABASE_URL": database_url,
           "CIIE_RSVP_INSTANCE_PATH": str(instance), "CIIE_RSVP_SEED_ON_START": "0",
           "CIIE_RSVP_MAIL_URL": f"file://{instance / 'mail'}",
           "CIIE_RSVP_BASE_URL": "https://rsvp.example.org",
           "CIIE_RSVP_SECURE_COOKIES": "0", "CIIE_RSVP_FORM_MIN_FILL_SECONDS": "0",
           "CIIE_RSVP_RATELIMIT_ENABLED": "0", **(extra_env or {})}
    cmd = [sys.executable, "-m", "ciie_rsvp.cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers)]
    instance.mkdir(parents=True, exist_ok=True)
    log = open(instance / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" +
                                   (instance / "server.log").read_text(errors="replace"))
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Browserish:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def register(self, slug: str, data: dict[str, Any]) -> int:
        status, html = self.request(f"/events/{slug}/register")
        assert status == 200, status
        status, _ = self.request(f"/events/{slug}/register", {**data, **form_fields(html)})
        return status
