"""Likely duplicates of a registration within its event, shown before an organizer approves.

Two kinds of evidence:

* the same person under email variants: case, plus-addressing (``ann+ciie@x.com``), dots in a
  Gmail local part (``a.n.n@gmail.com``), ``googlemail.com`` for ``gmail.com``;
* the same company under another spelling (punctuation, spacing, legal suffixes such as
  "Inc."/"LLC"/"有限公司", small typos) or the same web domain (website, or the email's
  domain when it is not a free-mail provider).

The candidates come from one query narrowed by email domain, web domain and the first letters
of the company name; the comparison itself is done here in Python.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import Registration

FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
    "msn.com", "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "qq.com",
    "163.com", "126.com", "sina.com", "foxmail.com", "yeah.net", "gmx.com", "mail.com",
})
GMAIL = frozenset({"gmail.com", "googlemail.com"})
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company",
    "plc", "gmbh", "lp", "llp", "pc", "the", "group", "holdings",
})
CJK_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")
SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "edu", "ac"})
# Hosts where every customer gets a subdomain (the Public Suffix List's private section, the
# ones small businesses use): a.myshopify.com and b.myshopify.com are two companies. The
# documentation domains of RFC 2606 are here too, so test and sample data do not all match.
SHARED_HOSTS = frozenset({
    "myshopify.com", "github.io", "gitlab.io", "wixsite.com", "squarespace.com",
    "wordpress.com", "blogspot.com", "business.site", "godaddysites.com", "weebly.com",
    "webflow.io", "netlify.app", "vercel.app", "pages.dev", "web.app", "firebaseapp.com",
    "herokuapp.com", "azurewebsites.net", "myftpupload.com", "square.site", "carrd.co",
    "example.com", "example.org", "example.net",
})
SIMILAR = 0.88
CANDIDATE_LIMIT = 500


@dataclass
class Warning:
    registration: Registration
    reasons: list[str]


def canonical_email(address: str) -> str:
    """The mailbox an address reaches: lower case, no ``+tag``, no dots for Gmail."""
    local, _, domain = address.strip().lower().rpartition("@")
    if domain in GMAIL:
        domain = "gmail.com"
        local = local.replace(".", "")
    local = local.split("+", 1)[0]
    return f"{local}@{domain}"


def company_key(name: str) -> str:
    """A spelling-insensitive key: no case, punctuation, spaces or legal suffixes."""
    text = unicodedata.normalize("NFKC", name).lower().replace("&", " and ")
    for suffix in CJK_SUFFIXES:
        text = text.removesuffix(suffix)
    words = [w for w in re.split(r"[\W_]+", text) if w]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return "".join(words)


def registrable_domain(host: str) -> str:
    """``www.shop.example.co.uk`` -> ``example.co.uk``; ``www.example.com`` -> ``example.com``;
    ``www.almonds.myshopify.com`` -> ``almonds.myshopify.com`` (see :data:`SHARED_HOSTS`)."""
    labels = [label for label in host.lower().strip(".").split(".") if label]
    if len(labels) >= 3 and ".".join(labels[-2:]) in SHARED_HOSTS:
        return ".".join(labels[-3:])
    if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def company_domain(reg: Registration) -> str:
    """The company's web domain: from its website, else from a non-free-mail address."""
    if reg.website:
        host = urlsplit(reg.website).hostname or ""
        if host:
            return registrable_domain(host)
    domain = reg.email_normalized.rpartition("@")[2]
    return "" if domain in FREE_MAIL else registrable_domain(domain)


def similar_names(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if a == b:
        return True
    return min(len(a), len(b)) >= 5 and difflib.SequenceMatcher(None, a, b).ratio() >= SIMILAR


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_for(reg: Registration) -> list[Warning]:
    """Other registrations of the same event that are likely the same person or company."""
    email_domain = reg.email_normalized.rpartition("@")[2]
    domains = {email_domain} | (GMAIL if email_domain in GMAIL else set())
    web = company_domain(reg)
    key = company_key(reg.company)
    narrowing = [Registration.email_normalized.like(f"%@{_escape(d)}", escape="\\")
                 for d in domains]
    if web:
        narrowing += [Registration.website.like(f"%{_escape(web)}%", escape="\\"),
                      Registration.email_normalized.like(f"%@{_escape(web)}", escape="\\"),
                      Registration.email_normalized.like(f"%.{_escape(web)}", escape="\\")]
    if key:
        prefix = _escape(reg.company.strip().lower()[:4])
        narrowing += [func.lower(Registration.company).like(f"{prefix}%", escape="\\"),
                      func.lower(Registration.company).like(f"the {prefix}%", escape="\\")]
    candidates = db.session.scalars(
        select(Registration).where(Registration.event_id == reg.event_id,
                                   Registration.id != reg.id, or_(*narrowing))
        .order_by(Registration.id).limit(CANDIDATE_LIMIT))
    mine = canonical_email(reg.email_normalized)
    warnings = []
    for other in candidates:
        reasons = []
        if canonical_email(other.email_normalized) == mine:
            reasons.append(f"email {other.email} reaches the same mailbox as {reg.email}")
        if similar_names(key, company_key(other.company)):
            reasons.append(f"company “{other.company}” looks like the same company")
        other_web = company_domain(other)
        if web and other_web == web:
            reasons.append(f"same company web domain ({web})")
        if reasons:
            warnings.append(Warning(other, reasons))
    # The likeliest first (more reasons, then the same mailbox): the page shows only a few.
    warnings.sort(key=lambda w: (-len(w.reasons), not w.reasons[0].startswith("email")))
    return warnings
