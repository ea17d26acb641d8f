"""Seed data: the two events of the article this service grew from.

"Meet in Shanghai, Share the Future" (Los Angeles, 2022-10-13) previewed the 5th China
International Import Expo (Shanghai, opening 2022-11-05). Seeding is idempotent: events are
matched by slug and never overwritten.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from .extensions import db
from .models import Event

EVENTS: list[dict[str, Any]] = [
    {
        "slug": "meet-in-shanghai-2022",
        "name_en": "Meet in Shanghai, Share the Future",
        "name_zh": "相约上海，共享未来",
        "summary_en": (
            "A conference in downtown Los Angeles that previews the 5th China International "
            "Import Expo and welcomes California's participating enterprises and organizations. "
            "It brings together CIIE exhibitors, California state and county officials, Chinese "
            "consulates and industry leaders from both countries to promote trade between Los "
            "Angeles and Shanghai, twin cities of trade, business and culture."
        ),
        "summary_zh": (
            "在洛杉矶市中心举行的推介会，预热第五届中国国际进口博览会，欢迎参展的加州企业和机构。"
            "进博会参展商代表、加州州和县官员、中国领事机构以及两国行业领袖齐聚一堂，"
            "促进洛杉矶与上海这两座贸易、商业与文化友好城市之间的经贸往来。"
        ),
        "start_date": dt.date(2022, 10, 13),
        "end_date": dt.date(2022, 10, 13),
        "timezone": "America/Los_Angeles",
        "venue": "Downtown Los Angeles",
        "city": "Los Angeles",
        "country": "United States",
        "hosts": "Shanghai Municipal Commission of Commerce",
        "organizers": (
            "World Trade Center Los Angeles; Shanghai Foreign Investment Development Board"
        ),
        "venue_zh": "洛杉矶市中心",
        "city_zh": "洛杉矶",
        "country_zh": "美国",
        "hosts_zh": "上海市商务委员会",
        "organizers_zh": "洛杉矶世界贸易中心、上海市外国投资促进中心",
    },
    {
        "slug": "ciie-2022",
        "name_en": "The 5th China International Import Expo (CIIE)",
        "name_zh": "第五届中国国际进口博览会",
        "summary_en": (
            "The fifth China International Import Expo in Shanghai, the key event highlighted "
            "at the \"Meet in Shanghai, Share the Future\" conference. California enterprises "
            "and organizations join the delegation to exhibit, meet buyers and explore the "
            "Chinese market."
        ),
        "summary_zh": (
            "在上海举办的第五届中国国际进口博览会，是“相约上海，共享未来”推介会重点介绍的盛会。"
            "加州企业和机构随代表团参展、对接采购商、开拓中国市场。"
        ),
        "start_date": dt.date(2022, 11, 5),
        "end_date": dt.date(2022, 11, 10),
        "timezone": "Asia/Shanghai",
        "venue": "National Exhibition and Convention Center (Shanghai)",
        "city": "Shanghai",
        "country": "China",
        "hosts": "Ministry of Commerce of the People's Republic of China; "
        "Shanghai Municipal People's Government",
        "organizers": "China International Import Expo Bureau; "
        "National Exhibition and Convention Center (Shanghai)",
        "venue_zh": "国家会展中心（上海）",
        "city_zh": "上海",
        "country_zh": "中国",
        "hosts_zh": "中华人民共和国商务部、上海市人民政府",
        "organizers_zh": "中国国际进口博览局、国家会展中心（上海）",
    },
]


# The conference's welcome invitation (templates/conference/welcome.*) belongs to this event.
WELCOME_EVENT = "meet-in-shanghai-2022"


def seed_events() -> list[str]:
    """Create the seed events that do not exist yet, and the conference's welcome invitation
    templates where they are missing; return the slugs created."""
    from .invitations.services import seed_templates

    created = []
    for data in EVENTS:
        if db.session.scalar(select(Event.id).where(Event.slug == data["slug"])) is None:
            db.session.add(Event(**data))
            created.append(data["slug"])
    db.session.flush()
    event = db.session.scalar(select(Event).where(Event.slug == WELCOME_EVENT))
    if event is not None:
        seed_templates(event, source="conference")
    return created
