"""Languages: English and Simplified Chinese.

The visitor's choice (the switch on every page, kept in the session) wins; otherwise the
browser's Accept-Language; otherwise English. Registrations store ``en`` or ``zh-Hans`` (BCP 47);
Babel calls the Chinese catalog ``zh_Hans``.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

from babel import Locale
from babel.dates import get_timezone_name
from flask import Flask, has_request_context, request, session
from flask_babel import get_locale
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


# The organizer console is written in English only: its pages' header and footer follow it,
# not the browser (a Chinese browser got a Chinese header over an English console). Both of
# its blueprints (organizer, invitations_admin) live under this prefix.
CONSOLE_PREFIX = "/organizer/"


def in_console() -> bool:
    """Whether this request is for the organizer console (also an address under it that
    does not exist)."""
    return request.path.startswith(CONSOLE_PREFIX)


def current_tag() -> str:
    """The BCP 47 tag of the page being rendered."""
    if has_request_context():
        if in_console():
            return "en"
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


def text_in(obj: Any, field: str, language: str) -> str:
    """``obj.<field>_zh`` when ``language`` is Chinese and it is filled in, else the English
    text: ``obj.<field>_en`` (``name``, ``summary``) or ``obj.<field>`` (``venue``...)."""
    if language == "zh-Hans":
        value = getattr(obj, f"{field}_zh", "") or ""
        if value:
            return str(value)
    english = f"{field}_en" if hasattr(obj, f"{field}_en") else field
    return getattr(obj, english, "") or ""


def localized(obj: Any, field: str) -> str:
    """:func:`text_in` the language of the page being rendered."""
    return text_in(obj, field, html_lang())


# Where Babel's name is not the one readers use (its 中国时间 for Macau, 美国（檀香山）时间).
_ZONE_NAMES_ZH = {"Asia/Macau": "澳门时间", "Asia/Macao": "澳门时间",
                  "Pacific/Honolulu": "夏威夷时间", "US/Hawaii": "夏威夷时间"}


def zone_name(zone: str, language: str | None = None) -> str:
    """A known zone's name as pages and messages in ``language`` (default: the page's) show
    it: ``America/Los Angeles`` in English (what organizers chose from); in Chinese as Chinese
    readers know it: ``北美太平洋时间``, ``北京时间``, ``协调世界时``, ``UTC+8``."""
    return _zone_name(zone, language or html_lang())


@functools.lru_cache(maxsize=256)
def _zone_name(zone: str, language: str) -> str:
    if language != "zh-Hans":
        return zone_label(zone)
    if zone in _ZONE_NAMES_ZH:
        return _ZONE_NAMES_ZH[zone]
    try:
        name = get_timezone_name(zone, locale="zh_Hans_CN")
    except LookupError:  # Babel's zone data (pytz) may lack a zone the system has
        name = "未知"
    if name == "中国时间":  # Babel's name for Asia/Shanghai and its aliases
        return "北京时间"
    if "未知" not in name and not any("a" <= c.lower() <= "z" for c in name):
        return name
    # Babel knows no place for UTC, GMT, the fixed Etc/GMT±N zones and the old POSIX-style
    # ones (EST5EDT): say their offset, or their name when daylight saving time moves it
    tz = zoneinfo.ZoneInfo(zone)
    offset = dt.datetime(2000, 1, 1, tzinfo=tz).utcoffset()
    if offset != dt.datetime(2000, 7, 1, tzinfo=tz).utcoffset():
        return zone_label(zone)
    if not offset:
        return "协调世界时"
    minutes = int(offset.total_seconds()) // 60
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")


def with_zone(text: str, zone: str, language: str | None = None) -> str:
    """The date or time ``text`` with the zone's name: after it in parentheses in English
    (``10:00 (America/Los Angeles)``), before it in Chinese (``北京时间10:00``)."""
    language = language or html_lang()
    name = zone_name(zone, language)
    if language != "zh-Hans":
        return f"{text} ({name})"
    return f"{name}{text}" if not name[-1].isascii() else f"{name} {text}"  # UTC+8 09:00


def event_time(value: dt.datetime, zone: str) -> str:
    """The instant ``value`` on the event's clock, on the page: its date, time and zone."""
    zone = known_zone(zone)  # a name this machine does not know: UTC, and it says so
    local = to_local(value, zone)
    assert local is not None
    return with_zone(clock(local, html_lang()), zone)


def clock(moment: dt.datetime, language: str) -> str:
    """An instant on an event's clock, ``moment`` already converted there: its date in
    ``language`` and the time (``October 7, 2030 17:00``, ``2030年10月7日 17:00``)."""
    day = moment.date()
    if language == "zh-Hans":
        return f"{day.year}年{day.month}月{day.day}日 {moment:%H:%M}"
    return f"{day:%B} {day.day}, {day.year} {moment:%H:%M}"


def format_event_date(event: Any, language: str) -> str:
    """The event's days: ``November 5–10, 2022``, ``2022年11月5日至10日``."""
    start, end = event.start_date, event.end_date
    if language == "zh-Hans":
        text = f"{start.year}年{start.month}月{start.day}日"
        if end == start:
            return text
        if (end.year, end.month) == (start.year, start.month):
            return f"{text}至{end.day}日"
        if end.year == start.year:
            return f"{text}至{end.month}月{end.day}日"
        return f"{text}至{end.year}年{end.month}月{end.day}日"
    if end == start:
        return f"{start:%B} {start.day}, {start.year}"
    if (end.year, end.month) == (start.year, start.month):
        return f"{start:%B} {start.day}–{end.day}, {start.year}"
    if end.year == start.year:
        return f"{start:%B} {start.day} – {end:%B} {end.day}, {end.year}"
    return f"{start:%B} {start.day}, {start.year} – {end:%B} {end.day}, {end.year}"


def event_hours(event: Any, language: str | None = None) -> str:
    """The event's hours on its own clock, e.g. ``10:00–16:00 (America/Los Angeles)``, in
    ``language`` (default: the page's); empty when it has no start time."""
    if event.start_time is None:
        return ""
    hours = f"{event.start_time:%H:%M}"
    if event.end_time is not None:
        hours += f"–{event.end_time:%H:%M}"
    return with_zone(hours, known_zone(event.timezone), language)


def format_event_when(event: Any, language: str | None = None) -> str:
    """The event's days and, when it has them, its hours, in ``language`` (default: the
    page's): ``October 13, 2030, 10:00–16:00 (America/Los Angeles)``,
    ``2030年10月13日（北美太平洋时间10:00–16:00）``."""
    language = language or html_lang()
    day = format_event_date(event, language)
    hours = event_hours(event, language)
    if not hours:
        return day
    return f"{day}（{hours}）" if language == "zh-Hans" else f"{day}, {hours}"


def format_rsvp_deadline(event: Any, language: str) -> str:
    """The RSVP deadline on the event's clock, with its zone; empty when it has none (answers
    are then taken until the first day begins)."""
    if event.rsvp_deadline is None:
        return ""
    zone = known_zone(event.timezone)
    local = to_local(event.rsvp_deadline, zone)
    assert local is not None
    return with_zone(clock(local, language), zone, language)


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
                                 current_tag=current_tag, event_place=event_place,
                                 event_when=format_event_when)
    app.jinja_env.filters["event_time"] = event_time
    app.jinja_env.filters["event_hours"] = event_hours
