"""Resolve platform authors to contacts and companies, explainably.

Methods, strongest first (see docs/identity.md):
1. `platform_id`: the contact already has an identity on the author's permanent platform id
   (never the username, which people change).
2. `bio_domain_name`: the profile URL's domain is a company's domain and exactly one of that
   company's contacts has the author's normalized full name.
3. `bio_domain`: the profile URL's domain is exactly one company's domain; a new contact is
   created at that company.
4. `new_contact`: nothing matched; a new contact carrying the identity is created, so the next
   sync finds the author by id.
Free hosting and free mail domains never count as company evidence; ambiguity links nothing.
Everything is set-based (pandas merges), never a per-author loop over contacts.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pandas as pd

# Domains anyone can get a page or mailbox on: they say nothing about an employer.
FREE_HOSTING_DOMAINS = frozenset(
    {
        "github.io", "github.com", "gitlab.io", "gitlab.com", "vercel.app", "netlify.app", "herokuapp.com",
        "pages.dev", "fly.dev", "render.com", "glitch.me", "repl.co", "medium.com", "substack.com", "dev.to",
        "hashnode.dev", "hashnode.com", "wordpress.com", "blogspot.com", "tumblr.com", "wixsite.com",
        "linktr.ee", "bio.link", "about.me", "carrd.co", "notion.site", "youtube.com", "twitch.tv",
        "linkedin.com", "x.com", "twitter.com", "t.co", "instagram.com", "facebook.com", "mastodon.social",
        "bsky.app", "polywork.com", "buymeacoffee.com", "ko-fi.com", "patreon.com", "google.com", "sites.google.com",
    }
)  # fmt: skip
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com", "icloud.com",
        "me.com", "proton.me", "protonmail.com", "aol.com", "gmx.com", "gmx.de", "fastmail.com", "hey.com",
        "yandex.ru", "mail.ru", "qq.com", "163.com", "zoho.com",
    }
)  # fmt: skip
_IDENTITY_NAMESPACE = uuid.UUID("5b0c8f43-7d6a-4f8e-9d7c-3a0f6c1e2b19")

CONFIDENCE = {"platform_id": 1.0, "bio_domain_name": 0.95, "bio_domain": 0.8, "new_contact": 1.0}
LINK_METHODS = tuple(CONFIDENCE)


def url_domain(url: str | None) -> str | None:
    """Lower-case host of a URL without `www.` and port; None when there is none."""
    if not url or not isinstance(url, str):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").strip(".").lower()
    host = host.removeprefix("www.")
    return host if "." in host else None


def is_free_domain(domain: str) -> bool:
    """True for free hosting / free mail domains and their subdomains (alice.github.io)."""
    labels = domain.split(".")
    suffixes = {".".join(labels[i:]) for i in range(len(labels))}
    return bool(suffixes & (FREE_HOSTING_DOMAINS | FREE_MAIL_DOMAINS))


def normalize_name(name: str | None) -> str:
    """'  José  O'Neil ' -> 'jose oneil': accents, case, punctuation and spacing ignored."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^\w\s]", "", text)
    return " ".join(text.split())


def new_contact_id(organization_id: str, platform: str, platform_user_id: str) -> str:
    """Deterministic, so a crashed-and-rerun resolution creates the same contact, not a twin."""
    return str(uuid.uuid5(_IDENTITY_NAMESPACE, f"{organization_id}:{platform}:{platform_user_id}"))


@dataclass(frozen=True)
class Resolution:
    """What resolution adds: new identities (every unknown author) and the contacts they need."""

    identities: pd.DataFrame  # organization_id, platform, platform_user_id, contact_id, username, method, confidence, evidence
    new_contacts: pd.DataFrame  # id, organization_id, company_id, full_name, email, source


def _domain_candidates(authors: pd.DataFrame) -> pd.DataFrame:
    """One row per (author, domain suffix) of every non-free URL in the profile."""
    urls = authors[["platform_user_id", "urls"]].explode("urls").dropna(subset=["urls"])
    urls["host"] = urls["urls"].map(url_domain)
    urls = urls.dropna(subset=["host"])
    urls = urls[~urls["host"].map(is_free_domain)]
    # blog.brightloop.io matches the company domain brightloop.io: try every suffix.
    urls["domain"] = (
        urls["host"]
        .str.split(".")
        .map(lambda labels: [".".join(labels[i:]) for i in range(len(labels) - 1)])
    )
    return urls[["platform_user_id", "host", "domain"]].explode("domain").drop_duplicates()


def resolve_authors(
    organization_id: str,
    platform: str,
    authors: pd.DataFrame,
    known_identities: pd.DataFrame,
    companies: pd.DataFrame,
    contacts: pd.DataFrame,
) -> Resolution:
    """Resolve authors that have no identity yet.

    authors: platform_user_id, username, name, urls (list of profile/bio URLs)
    known_identities: platform_user_id (identities already recorded for this platform)
    companies: id, domain; contacts: id, company_id, full_name
    """
    unknown = authors[~authors["platform_user_id"].isin(known_identities["platform_user_id"])]
    unknown = unknown.drop_duplicates("platform_user_id").reset_index(drop=True)
    if unknown.empty:
        return Resolution(_empty_identities(), _empty_contacts())

    # Company by bio/website domain; an author matching two companies is ambiguous: no link.
    company_domains = companies.dropna(subset=["domain"]).assign(
        domain=lambda f: f["domain"].str.lower()
    )
    domain_hits = _domain_candidates(unknown).merge(
        company_domains[["id", "domain"]].rename(columns={"id": "company_id"}), on="domain"
    )
    per_author = domain_hits.groupby("platform_user_id")["company_id"].nunique()
    domain_hits = domain_hits[domain_hits["platform_user_id"].map(per_author) == 1]
    domain_hits = domain_hits.drop_duplicates("platform_user_id")[
        ["platform_user_id", "company_id", "host", "domain"]
    ]
    resolved = unknown.merge(domain_hits, on="platform_user_id", how="left")

    # Within the matched company, a unique exact normalized-name match names the contact.
    resolved["name_key"] = resolved["name"].map(normalize_name)
    named = contacts.dropna(subset=["company_id"]).assign(
        name_key=lambda f: f["full_name"].map(normalize_name)
    )
    named = named[named["name_key"] != ""]
    unique_names = named[named.groupby(["company_id", "name_key"])["id"].transform("size") == 1]
    resolved = resolved.merge(
        unique_names[["company_id", "name_key", "id", "full_name"]].rename(
            columns={"id": "matched_contact_id", "full_name": "matched_name"}
        ),
        on=["company_id", "name_key"],
        how="left",
    )

    has_company = resolved["company_id"].notna()
    has_contact = resolved["matched_contact_id"].notna()
    resolved["method"] = "new_contact"
    resolved.loc[has_company, "method"] = "bio_domain"
    resolved.loc[has_contact, "method"] = "bio_domain_name"
    resolved["contact_id"] = resolved["matched_contact_id"].where(
        has_contact,
        resolved["platform_user_id"].map(
            lambda uid: new_contact_id(organization_id, platform, uid)
        ),
    )
    resolved["confidence"] = resolved["method"].map(CONFIDENCE)
    resolved["evidence"] = [
        _evidence(row)
        for row in resolved[["method", "host", "domain", "name", "matched_name"]].itertuples(
            index=False
        )
    ]

    identities = pd.DataFrame(
        {
            "organization_id": organization_id,
            "platform": platform,
            "platform_user_id": resolved["platform_user_id"],
            "contact_id": resolved["contact_id"],
            "username": resolved["username"],
            "method": resolved["method"],
            "confidence": resolved["confidence"],
            "evidence": resolved["evidence"],
        }
    )
    creates = resolved[~has_contact]
    new_contacts = pd.DataFrame(
        {
            "id": creates["contact_id"],
            "organization_id": organization_id,
            "company_id": creates["company_id"]
            .astype(object)
            .where(creates["company_id"].notna(), None),
            "full_name": creates["name"],
            "email": None,
            "source": platform,
        }
    )
    return Resolution(identities, new_contacts)


def _evidence(row: tuple) -> dict[str, str]:
    method, host, domain, name, matched_name = row
    if method == "bio_domain_name":
        return {
            "profile_host": host,
            "company_domain": domain,
            "author_name": name,
            "contact_name": matched_name,
        }
    if method == "bio_domain":
        return {"profile_host": host, "company_domain": domain}
    return {"reason": "no known identity, no company domain in the profile"}


def _empty_identities() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "organization_id",
            "platform",
            "platform_user_id",
            "contact_id",
            "username",
            "method",
            "confidence",
            "evidence",
        ]
    )


def _empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["id", "organization_id", "company_id", "full_name", "email", "source"]
    )


def link_method(identity_method: str) -> str:
    """An identity the CRM recorded is a `platform_id` link; others keep the method that made them."""
    return "platform_id" if identity_method == "crm" else identity_method


def score_links(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Precision and recall of resolved links against ground truth.

    links: platform_user_id, contact_id, company_id, method. truth: platform_user_id,
    contact_id, company_id (None where the author is nobody the organization knows).
    A `new_contact` link claims nothing and is not scored; a `bio_domain` link claims a company.
    """
    claims = links[links["method"] != "new_contact"].merge(
        truth, on="platform_user_id", how="left", suffixes=("", "_true")
    )
    contact_claim = claims["method"].isin(["platform_id", "bio_domain_name"])
    correct = (contact_claim & (claims["contact_id"] == claims["contact_id_true"])) | (
        ~contact_claim & (claims["company_id"] == claims["company_id_true"])
    )
    knowable = truth[truth["contact_id"].notna() | truth["company_id"].notna()]
    knowable = knowable[knowable["platform_user_id"].isin(links["platform_user_id"])]
    return {
        "links_scored": len(claims),
        "links_correct": int(correct.sum()),
        "precision": float(correct.mean()) if len(claims) else 1.0,
        "recall": float(correct.sum() / len(knowable)) if len(knowable) else 1.0,
    }
