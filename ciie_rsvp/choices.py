"""The vocabulary of a registration: CIIE exhibition areas, California counties, and so on.

Codes are stored in the database; labels are shown to people. Keep codes stable.
"""

from __future__ import annotations

from .i18n import N_

# The six exhibition areas of the China International Import Expo.
SECTORS: list[tuple[str, str]] = [
    ("food_agriculture", N_("Food and agricultural products")),
    ("automobile", N_("Automobile")),
    ("intelligent_industry_it", N_("Intelligent industry and information technology")),
    ("consumer_goods", N_("Consumer goods")),
    ("medical_healthcare", N_("Medical equipment and healthcare products")),
    ("trade_in_services", N_("Trade in services")),
]

COMPANY_SIZES: list[tuple[str, str]] = [
    ("1-9", N_("1–9 employees")),
    ("10-49", N_("10–49 employees")),
    ("50-249", N_("50–249 employees")),
    ("250-999", N_("250–999 employees")),
    ("1000+", N_("1,000 or more employees")),
]

INTERESTS: list[tuple[str, str]] = [
    ("exhibit", N_("Exhibit at CIIE")),
    ("delegation", N_("Join the California delegation")),
    ("conference", N_("Attend the Los Angeles conference")),
    ("matchmaking", N_("B2B matchmaking")),
]

LANGUAGES: list[tuple[str, str]] = [("en", "English"), ("zh-Hans", "简体中文 (Simplified Chinese)")]

# All 58 counties of California.
CALIFORNIA_COUNTIES: list[str] = [
    "Alameda", "Alpine", "Amador", "Butte", "Calaveras", "Colusa", "Contra Costa", "Del Norte",
    "El Dorado", "Fresno", "Glenn", "Humboldt", "Imperial", "Inyo", "Kern", "Kings", "Lake",
    "Lassen", "Los Angeles", "Madera", "Marin", "Mariposa", "Mendocino", "Merced", "Modoc",
    "Mono", "Monterey", "Napa", "Nevada", "Orange", "Placer", "Plumas", "Riverside",
    "Sacramento", "San Benito", "San Bernardino", "San Diego", "San Francisco", "San Joaquin",
    "San Luis Obispo", "San Mateo", "Santa Barbara", "Santa Clara", "Santa Cruz", "Shasta",
    "Sierra", "Siskiyou", "Solano", "Sonoma", "Stanislaus", "Sutter", "Tehama", "Trinity",
    "Tulare", "Tuolumne", "Ventura", "Yolo", "Yuba",
]  # fmt: skip

STATUSES: list[tuple[str, str]] = [
    ("submitted", N_("Submitted")),
    ("approved", N_("Approved")),
    ("waitlisted", N_("Waitlisted")),
    ("declined", N_("Declined")),
    ("withdrawn", N_("Withdrawn")),
]


def label(choices: list[tuple[str, str]], code: str | None) -> str:
    """The human label of ``code`` in ``choices`` (the code itself when unknown)."""
    return dict(choices).get(code or "", code or "")
