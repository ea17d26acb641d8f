"""English and Simplified Chinese: every public string is translatable and translated."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import csrf_from, form_fields, text_body

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "ciie_rsvp/translations/zh_Hans/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
PUBLIC_TEMPLATES = [ROOT / "templates/base.html", ROOT / "templates/macros.html",
                    *sorted((ROOT / "templates/registration").glob("*.html")),
                    *sorted((ROOT / "templates/rsvp").glob("*.html")),
                    *sorted((ROOT / "templates/errors").glob("*.html")),
                    *sorted((ROOT / "templates/email").glob("*"))]
# Words that are the same in both languages (names of things, units, the other language).
ALLOWED = {"ciie-rsvp", "UTC", "English", "https", "http", "example", "com", "Y", "m", "d", "H",
           "M"}


def _extracted() -> set[str]:
    method_map = [("ciie_rsvp/**.py", "python"), ("templates/**.html", "jinja2"),
                  ("templates/**.txt", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "N_": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_extracted_string_has_a_chinese_translation():
    catalog = read_po(PO.open("rb"))
    translations = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    missing = sorted(m for m in _extracted() if not translations.get(m))
    assert not missing, f"missing zh-Hans translations (run pybabel extract/update): {missing}"


def test_compiled_catalog_matches_the_po_file():
    catalog = read_po(PO.open("rb"))
    with MO.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [m.id for m in catalog if m.id and m.string and compiled.gettext(m.id) != m.string]
    assert not stale, f"messages.mo is stale (run pybabel compile): {stale[:5]}"


def test_public_templates_have_no_untranslatable_text():
    offenders = []
    for path in PUBLIC_TEMPLATES:
        text = path.read_text()
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", text, flags=re.S)
        text = re.sub(r"<style.*?</style>|<[^>]+>|&[a-z]+;", " ", text, flags=re.S)
        words = set(re.findall(r"[A-Za-z][A-Za-z-]*", text)) - ALLOWED
        if words:
            offenders.append(f"{path.relative_to(ROOT)}: {sorted(words)}")
    assert not offenders, "text outside _() in public templates:\n" + "\n".join(offenders)


def test_accept_language_chooses_chinese(client, make_event):
    slug = make_event()
    page = client.get(f"/events/{slug}/register", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = page.get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html
    assert "公司名称（法定名称）" in html and "食品及农产品" in html
    assert "相约上海，共享未来" in html
    assert "2030年10月13日" in html
    english = client.get(f"/events/{slug}/register",
                         headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Company (legal name)" in english
    assert "October 13, 2030" in english


def test_language_switch_is_remembered(client, make_event):
    slug = make_event()
    page = client.get(f"/events/{slug}/register")
    resp = client.post("/lang", data={"lang": "zh-Hans", "next": f"/events/{slug}/register",
                                      "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/events/{slug}/register"
    assert "提交报名" in client.get(f"/events/{slug}/register").get_data(as_text=True)
    assert "进博会加州代表团" in client.get("/").get_data(as_text=True)
    page = client.get("/")
    client.post("/lang", data={"lang": "en", "next": "//evil.example",
                               "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert "Submit registration" in client.get(f"/events/{slug}/register").get_data(as_text=True)


def test_chinese_registrant_completes_every_step_in_chinese(client, make_event, mailbox):
    slug = make_event()
    zh = {"Accept-Language": "zh-CN"}
    page = client.get(f"/events/{slug}/register", headers=zh)
    from tests.conftest import valid_registration

    bad = valid_registration(phone="12", language="zh-Hans",
                             **form_fields(page.get_data(as_text=True)))
    resp = client.post(f"/events/{slug}/register", data=bad, headers=zh)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "请更正以下内容" in html and "电话号码" in html
    good = valid_registration(first_name="晓明", last_name="王", language="zh-Hans",
                              **form_fields(html))
    resp = client.post(f"/events/{slug}/register", data=good, headers=zh)
    assert resp.status_code == 303
    assert "您对" in client.get(resp.headers["Location"], headers=zh).get_data(as_text=True)
    [msg] = mailbox()
    assert msg["Subject"].startswith("报名已收到")
    body = text_body(msg)
    assert "王晓明，您好" in body and "专属链接" in body
    token = re.search(r"/r/([A-Za-z0-9_-]+)", body).group(1)
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    assert "</a>（专属链接" in html_part  # no Latin space before a full-width bracket
    manage = client.get(f"/r/{token}", headers=zh).get_data(as_text=True)
    assert "撤回我的报名" in manage
    # when they registered: on the event's clock, as Chinese writes it (it was "… UTC")
    assert re.search(r"<dd>北美太平洋时间\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d</dd>", manage)
    resp = client.post(f"/r/{token}/withdraw", data={"csrf_token": csrf_from(manage)},
                       headers=zh)
    assert "您的报名已撤回" in client.get(resp.headers["Location"], headers=zh).get_data(True)


def test_chinese_pages_name_the_place_hosts_and_zone_in_chinese(client, make_event):
    """An event with its place and hosts in Chinese shows them on Chinese pages (English
    pages keep the English); an event without them shows the English on both."""
    slug = make_event(venue="National Exhibition and Convention Center (Shanghai)",
                      city="Shanghai", country="China", venue_zh="国家会展中心（上海）",
                      city_zh="上海", country_zh="中国", hosts_zh="中华人民共和国商务部",
                      organizers_zh="中国国际进口博览局")
    zh = {"Accept-Language": "zh-CN"}
    listing = client.get("/", headers=zh).get_data(as_text=True)
    assert "中国上海 国家会展中心（上海）" in listing
    assert "主办单位：中华人民共和国商务部。承办单位：中国国际进口博览局。" in listing
    assert "Shanghai Municipal Commission of Commerce" not in listing
    form = client.get(f"/events/{slug}/register", headers=zh).get_data(as_text=True)
    assert "2030年10月13日 · 中国上海 国家会展中心（上海）" in form
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "National Exhibition and Convention Center (Shanghai), Shanghai" not in english
    assert "National Exhibition and Convention Center (Shanghai)" in english
    assert "国家会展中心" not in english and "Shanghai Municipal Commission of Commerce" in english
    plain = make_event(slug="plain-" + slug)
    plain_zh = client.get(f"/events/{plain}/register", headers=zh).get_data(as_text=True)
    assert "2030年10月13日 · Downtown Los Angeles" in plain_zh


@pytest.mark.parametrize(("zone", "english", "chinese"), [
    ("Asia/Shanghai", "Asia/Shanghai", "北京时间"),
    ("PRC", "PRC", "北京时间"),
    ("America/Los_Angeles", "America/Los Angeles", "北美太平洋时间"),
    ("America/New_York", "America/New York", "北美东部时间"),
    ("UTC", "UTC", "协调世界时"),
    ("Etc/UTC", "Etc/UTC", "协调世界时"),
    ("GMT", "GMT", "协调世界时"),
    ("Etc/GMT-8", "Etc/GMT-8", "UTC+8"),  # the Etc/ signs run backwards
    ("Etc/GMT+5", "Etc/GMT+5", "UTC-5"),
    ("Asia/Macau", "Asia/Macau", "澳门时间"),
    ("Pacific/Honolulu", "Pacific/Honolulu", "夏威夷时间"),
    ("EST5EDT", "EST5EDT", "EST5EDT"),  # no Chinese name, and its offset moves
])
def test_zone_names_in_each_language(app, zone, english, chinese):
    from ciie_rsvp.i18n import with_zone, zone_name

    with app.test_request_context():
        assert zone_name(zone, "en") == english and zone_name(zone, "zh-Hans") == chinese
        assert with_zone("10:00", zone, "en") == f"10:00 ({english})"
        # Chinese names run into the time; a Latin one (UTC+8) keeps a space
        joint = " " if chinese[-1].isascii() else ""
        assert with_zone("10:00", zone, "zh-Hans") == f"{chinese}{joint}10:00"


def test_every_selectable_zone_has_a_name_in_chinese(app):
    """No zone an organizer can choose comes out as Babel's 未知地区 or with Latin text
    inside Chinese brackets."""
    from ciie_rsvp.i18n import zone_name
    from ciie_rsvp.zones import time_zones

    with app.test_request_context():
        names = {zone: zone_name(zone, "zh-Hans") for zone in time_zones()}
    odd = {z: n for z, n in names.items()
           if "未知" in n or "（" in n and any("a" <= c.lower() <= "z" for c in n)}
    assert not odd


@pytest.mark.parametrize(("fields", "english", "chinese"), [
    ({"venue": "Downtown Los Angeles", "city": "Los Angeles", "country": "United States",
      "venue_zh": "洛杉矶市中心", "city_zh": "洛杉矶", "country_zh": "美国"},
     "Downtown Los Angeles, Los Angeles, United States", "美国洛杉矶市中心"),
    ({"venue": "National Exhibition and Convention Center (Shanghai)", "city": "Shanghai",
      "country": "China", "venue_zh": "国家会展中心（上海）", "city_zh": "上海",
      "country_zh": "中国"},
     "National Exhibition and Convention Center (Shanghai), Shanghai, China",
     "中国上海 国家会展中心（上海）"),
    # Chinese names run together; a venue that starts with the city (上海市 too) carries it
    ({"venue": "Moscone Center", "city": "San Francisco", "country": "United States",
      "venue_zh": "莫斯康展览中心", "city_zh": "旧金山", "country_zh": "美国"},
     "Moscone Center, San Francisco, United States", "美国旧金山莫斯康展览中心"),
    ({"venue": "SICC", "city": "Shanghai", "country": "China", "venue_zh": "上海国际会议中心",
      "city_zh": "上海市", "country_zh": "中国"}, "SICC, Shanghai, China", "中国上海国际会议中心"),
    ({"venue": "Marina Bay Sands", "city": "Singapore", "country": "Singapore",
      "venue_zh": "滨海湾金沙会展中心", "city_zh": "新加坡", "country_zh": "新加坡"},
     "Marina Bay Sands, Singapore, Singapore", "新加坡滨海湾金沙会展中心"),
    # no Chinese text at all: the English line (it used to come out in Chinese order)
    ({"venue": "Los Angeles Chamber of Commerce", "city": "Commerce",
      "country": "United States"}, "Los Angeles Chamber of Commerce, Commerce, United States",
     "Los Angeles Chamber of Commerce, Commerce, United States"),
    ({"venue": "Millennium Biltmore Hotel", "city": "Los Angeles", "country": "United States",
      "venue_zh": "洛杉矶千禧比特摩尔酒店", "city_zh": "洛杉矶", "country_zh": "美国"},
     "Millennium Biltmore Hotel, Los Angeles, United States", "美国洛杉矶千禧比特摩尔酒店"),
    ({"venue": "Millennium Biltmore Hotel", "city": "Los Angeles", "country": "United States",
      "venue_zh": "千禧比特摩尔酒店", "city_zh": "洛杉矶", "country_zh": "美国"},
     "Millennium Biltmore Hotel, Los Angeles, United States", "美国洛杉矶千禧比特摩尔酒店"),
    # a name without Chinese text stays English, set apart by a space
    ({"venue": "Hilton Pasadena", "city": "Pasadena", "country": "United States",
      "country_zh": "美国"}, "Hilton Pasadena, Pasadena, United States",
     "美国 Pasadena Hilton Pasadena"),
    ({"venue": "", "city": "", "country": ""}, "", ""),
])
def test_the_place_in_one_line(fields, english, chinese):
    from ciie_rsvp.models import Event

    event = Event(**fields)
    assert event.place("en") == english and event.place("zh-Hans") == chinese
