"""Map Clearbit-style enrichment payloads to DevSignal's company and contact fields.

The v2 Company/Person shapes are mapped field by field; the legacy v1 shape (top-level
`employees`, `categories[]`) and payloads with missing or null parts are mapped where possible
and never raise: a missing field is None.
"""

from __future__ import annotations

import re
from typing import Any

COMPANY_FIELDS = (
    "name", "legal_name", "description", "domain", "industry", "sector", "sub_industry", "employees",
    "employees_range", "estimated_annual_revenue", "founded_year", "country", "city", "linkedin_handle",
    "twitter_handle", "tech_stack",
)  # fmt: skip
PERSON_FIELDS = (
    "full_name", "title", "role", "seniority", "city", "country", "twitter", "github", "linkedin", "avatar",
    "employment_domain",
)  # fmt: skip

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,63}$")


def normalize_domain(value: Any) -> str | None:
    """A bare lower-case domain, or None when the value is not one (rejected before any call)."""
    if not isinstance(value, str):
        return None
    domain = value.strip().lower().removeprefix("http://").removeprefix("https://").split("/")[0]
    domain = domain.removeprefix("www.")
    return domain if _DOMAIN.match(domain) else None


def normalize_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    return email if _EMAIL.match(email) else None


def _get(payload: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(payload, dict):
            return None
        payload = payload.get(part)
    return payload


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _tech(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(t.strip().lower() for t in value if isinstance(t, str) and t.strip()))


def is_legacy_company(payload: dict[str, Any]) -> bool:
    return "categories" in payload or ("employees" in payload and "metrics" not in payload)


def map_company(payload: Any) -> dict[str, Any]:
    """The 16 company fields from a v2 (or legacy v1) Company payload."""
    if not isinstance(payload, dict):
        return dict.fromkeys(COMPANY_FIELDS)
    legacy = is_legacy_company(payload)
    categories = payload.get("categories") if legacy else None
    industry = (
        next((c for c in categories if isinstance(c, str)), None)
        if isinstance(categories, list)
        else _get(payload, "category.industry")
    )
    return {
        "name": _text(payload.get("name")),
        "legal_name": _text(payload.get("legalName")),
        "description": _text(payload.get("description")),
        "domain": normalize_domain(payload.get("domain")),
        "industry": _text(industry),
        "sector": _text(_get(payload, "category.sector")),
        "sub_industry": _text(_get(payload, "category.subIndustry")),
        "employees": _int(
            payload.get("employees") if legacy else _get(payload, "metrics.employees")
        ),
        "employees_range": _text(_get(payload, "metrics.employeesRange")),
        "estimated_annual_revenue": _text(_get(payload, "metrics.estimatedAnnualRevenue")),
        "founded_year": _int(payload.get("foundedYear")),
        "country": _text(_get(payload, "geo.country")),
        "city": _text(_get(payload, "geo.city")),
        "linkedin_handle": _text(_get(payload, "linkedin.handle")),
        "twitter_handle": _text(_get(payload, "twitter.handle")),
        "tech_stack": _tech(payload.get("tech")),
    }


def map_person(payload: Any) -> dict[str, Any]:
    """The contact fields (and employment domain) from a v2 (or legacy) Person payload."""
    if not isinstance(payload, dict):
        return dict.fromkeys(PERSON_FIELDS)
    name = payload.get("name")
    full_name = _get(name, "fullName") if isinstance(name, dict) else name
    return {
        "full_name": _text(full_name),
        "title": _text(_get(payload, "employment.title")),
        "role": _text(_get(payload, "employment.role")),
        "seniority": _text(_get(payload, "employment.seniority")),
        "city": _text(_get(payload, "geo.city")),
        "country": _text(_get(payload, "geo.country")),
        "twitter": _text(_get(payload, "twitter.handle")),
        "github": _text(_get(payload, "github.handle")),
        "linkedin": _text(_get(payload, "linkedin.handle")),
        "avatar": _text(payload.get("avatar")),
        "employment_domain": normalize_domain(_get(payload, "employment.domain")),
    }
