"""Pages rendered once and then filled in per request.

The empty registration form is the busiest page of the service, and rendering it (WTForms
widgets, the field macros, translations) cost more CPU than everything else a registration
does together (profiled: about 3.5 of 6 ms per GET + POST). Its HTML depends only on the
event's stored values, the language and the address, plus a few values that differ on every
view (the CSRF token, the signed "form shown at" stamp). So it is rendered once per key with
those values swapped for markers, and each request puts its own values back: two
``str.replace`` calls instead of a template render.

The cache lives in each server process (bounded, least recently used out first); a key that
includes every stored value the page shows cannot go stale, so there is nothing to invalidate
across processes.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping

from flask import current_app, request, session


class FilledPageCache:
    """Rendered pages with per-request placeholders (``values``) swapped back in."""

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self._pages: OrderedDict[Hashable, tuple[str, tuple[tuple[str, str], ...]]] = (
            OrderedDict())
        self._lock = threading.Lock()
        # Markers no template can produce by chance (a fresh secret per process).
        self._marker = f"\x00{secrets.token_hex(8)}:"

    def page(self, key: Hashable, render: Callable[[], str], values: Mapping[str, str]) -> str:
        """The page for ``key`` with this request's ``values`` in it.

        ``render`` must produce the page with exactly these ``values`` in it; a value that
        is empty or does not occur in the page is simply not swapped.
        """
        cached = self._pages.get(key)
        if cached is not None:
            html, markers = cached
            for name, marker in markers:
                html = html.replace(marker, values[name])
            return html
        html = render()
        template, markers = html, []
        for name, value in values.items():
            if value and value in template:
                marker = f"{self._marker}{name}\x00"
                template = template.replace(value, marker)
                markers.append((name, marker))
        with self._lock:
            self._pages[key] = (template, tuple(markers))
            while len(self._pages) > self.maxsize:
                self._pages.popitem(last=False)
        return html

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()


def cacheable_request() -> bool:
    """A plain GET whose page shows nothing of this visitor's but the per-request values.

    Not with a query string, not when flashed messages wait to be shown, not while templates
    reload (debug mode), and not when ``PAGE_CACHE`` is off.
    """
    return (
        request.method == "GET"
        and not request.query_string
        and "_flashes" not in session
        and current_app.config.get("PAGE_CACHE", True)
        and not current_app.debug
        and not current_app.config.get("TEMPLATES_AUTO_RELOAD")
    )
