"""Languages: English and Simplified Chinese.

The visitor's choice (the switch on every page, kept in the session) wins; otherwise the
browser's Accept-Language; otherwise English. Registrations store ``en`` or ``zh-Hans`` (BCP 47);
Babel calls the Chinese catalog ``zh_Hans``.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from babel import Locale
from babel.dates import get_timezone_name
from flask import Flask, has_request_context, request, session
from flask_babel import format_date, get_locale
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .extensions import babel
from .zones import known_zone, to_local, zone_label

#: BCP 47 tag (stored, shown in ``lang=""``) → Babel locale of our catalogs.
LOCALES: dict[str, str] = {"en": "en", "zh-Hans": "zh_Hans"}
DEFAULT = "en"


def N_(message: str) -> str:  # noqa: N802 - the conventional name for "mark for extraction"
    """Mark a string for translation without translating it now (pybabel keyword)."""
    return message


def normalize_tag(value: str | None) -> str | None:
    """Map what a visitor or browser says (``zh``, ``zh-CN``, ``zh_Hans``…) to our tags."""
    if not value:
        return None
    value = value.strip().replace("_", "-").lower()
    if value.startswith("zh"):
        return "zh-Hans"
    if value == "en" or value.startswith("en-"):
        return "en"
    return None


def current_tag() -> str:
    """The BCP 47 tag of the page being rendered."""
    if has_request_context():
        chosen = normalize_tag(session.get("lang"))
        if chosen:
            return chosen
        return _tag_for_accept_language(request.headers.get("Accept-Language", ""))
    return DEFAULT


@functools.lru_cache(maxsize=256)
def _tag_for_accept_language(header: str) -> str:
    """Our tag for a browser's ``Accept-Language`` (a handful of distinct values in practice:
    parsed once each instead of on every request)."""
    best = parse_accept_header(header, LanguageAccept).best_match(["en", "zh", "zh-CN", "zh-Hans"])
    return normalize_tag(best) or DEFAULT


def locale_for(tag: str | None) -> str:
    return LOCALES.get(tag or DEFAULT, "en")


# Parsed once: Flask-Babel parses what the selector returns on every request unless it is
# already a ``Locale``.
_LOCALE_OBJECTS: dict[str, Locale] = {tag: Locale.parse(name) for tag, name in LOCALES.items()}


def select_locale() -> Locale:
    return _LOCALE_OBJECTS[current_tag()]


def html_lang() -> str:
    """``lang`` attribute for the current locale."""
    return "zh-Hans" if str(get_locale()).startswith("zh") else "en"


def localized(obj: Any, field: str) -> str:
    """``obj.<field>_zh`` when rendering Chinese and it is filled in, else the English text:
    ``obj.<field>_en`` (``name``, ``summary``) or ``obj.<field>`` (``venue``, ``hosts``...)."""
    if html_lang() == "zh-Hans":
        value = getattr(obj, f"{field}_zh", "") or ""
        if value:
            return value
    english = f"{field}_en" if hasattr(obj, f"{field}_en") else field
    return getattr(obj, english, "") or ""


def long_date(value: Any) -> str:
    return format_date(value, format="long")


# Chinese readers know these zones by these names (Babel's would be 中国时间, 未知地区 for UTC).
_ZONE_NAMES_ZH = {"Asia/Shanghai": "北京时间", "UTC": "协调世界时（UTC）"}


def zone_name(zone: str, language: str | None = None) -> str:
    """A known zone's name as pages and messages in ``language`` (default: the page's) show
    it: ``America/Los Angeles`` in English (what organizers chose from), ``北美太平洋时间``,
    ``北京时间`` in Chinese."""
    return _zone_name(zone, language or html_lang())


@functools.lru_cache(maxsize=256)
def _zone_name(zone: str, language: str) -> str:
    if language != "zh-Hans":
        return zone_label(zone)
    if zone in _ZONE_NAMES_ZH:
        return _ZONE_NAMES_ZH[zone]
    name = get_timezone_name(zone, locale="zh_Hans_CN")
    return zone_label(zone) if "未知" in name else name


def with_zone(text: str, zone: str, language: str | None = None) -> str:
    """The date or time ``text`` with the zone's name: after it in parentheses in English
    (``10:00 (America/Los Angeles)``), before it in Chinese (``北京时间 10:00``)."""
    language = language or html_lang()
    name = zone_name(zone, language)
    return f"{name} {text}" if language == "zh-Hans" else f"{text} ({name})"


def event_time(value: dt.datetime, zone: str) -> str:
    """The instant ``value`` on the event's clock: its long date, the time and the zone."""
    zone = known_zone(zone)  # a name this machine does not know: UTC, and it says so
    local = to_local(value, zone)
    assert local is not None
    return with_zone(f"{long_date(local.date())} {local:%H:%M}", zone)


def event_hours(event: Any, language: str | None = None) -> str:
    """The event's hours on its own clock, e.g. ``10:00–16:00 (America/Los Angeles)``, in
    ``language`` (default: the page's); empty when it has no start time."""
    if event.start_time is None:
        return ""
    hours = f"{event.start_time:%H:%M}"
    if event.end_time is not None:
        hours += f"–{event.end_time:%H:%M}"
    return with_zone(hours, known_zone(event.timezone), language)


def event_place(event: Any) -> str:
    """Where the event is, as the public pages show it: venue and city in English
    (``Downtown Los Angeles, Los Angeles``), the whole place in Chinese (``美国洛杉矶市中心``)."""
    if html_lang() == "zh-Hans":
        return str(event.place("zh-Hans"))
    venue, city = event.venue or "", event.city or ""
    return f"{venue}, {city}" if venue and city and city not in venue else venue or city


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories="translations")
    app.jinja_env.globals.update(html_lang=html_lang, localized=localized,
                                 current_tag=current_tag, event_place=event_place)
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["event_time"] = event_time
    app.jinja_env.filters["event_hours"] = event_hours
