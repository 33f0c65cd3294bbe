"""Event types, the versioned payload envelope, deterministic event ids and sample payloads.

Every body is {"id", "type", "version", "organization", "occurred_at", "data"} as compact JSON;
the outbox stores those exact bytes and every delivery and retry sends them unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

PAYLOAD_VERSION = 1

EVENT_TYPES: dict[str, str] = {
    "signal.created": "A new developer signal (X post, Stack Overflow question or answer, product event).",
    "contact.created": "A contact appeared (entered in the CRM or created by identity resolution).",
    "contact.updated": "A contact's fields changed (CRM edit, enrichment, new employer link).",
    "company.created": "A company (account) appeared in the CRM.",
    "deal.created": "A deal was created in the CRM.",
    "deal.stage_changed": "A deal moved to another pipeline stage.",
    "score.changed": "An account's score changed between two score snapshots (also sent with tier.changed).",
    "tier.changed": "An account moved between tiers HOT / WARM / COLD.",
}


class UnknownEventTypeError(ValueError):
    pass


def validate_event_type(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise UnknownEventTypeError(
            f"unknown event type {event_type!r}; use one of {', '.join(EVENT_TYPES)}"
        )
    return event_type


def event_id(organization_id: str, event_type: str, *parts: object) -> str:
    """The same change always gets the same id, so a re-run emits nothing new."""
    text = "\x1f".join([organization_id, event_type, *(str(p) for p in parts)])
    return "evt_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """A warehouse value as plain JSON: UTC ISO times, no NaN / NaT, numpy scalars unwrapped."""
    if value is None:
        return None
    if isinstance(value, datetime):  # pandas.Timestamp included
        if value != value:  # NaT
            return None
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return iso(stamp)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return jsonable(value.item())
    if value.__class__.__name__ in ("NaTType", "NAType"):
        return None
    return value


@dataclass(frozen=True)
class Event:
    id: str
    organization_id: str
    event_type: str
    occurred_at: datetime
    payload: str  # exact JSON body

    @classmethod
    def build(
        cls,
        organization_id: str,
        event_type: str,
        id_parts: tuple[object, ...],
        occurred_at: datetime,
        data: dict[str, Any],
        test: bool = False,
    ) -> Event:
        validate_event_type(event_type)
        eid = (
            f"evt_test_{uuid.uuid4().hex}"
            if test
            else event_id(organization_id, event_type, *id_parts)
        )
        envelope: dict[str, Any] = {
            "id": eid,
            "type": event_type,
            "version": PAYLOAD_VERSION,
            "organization": organization_id,
            "occurred_at": iso(occurred_at),
            "data": jsonable(data),
        }
        if test:
            envelope["test"] = True
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return cls(eid, organization_id, event_type, occurred_at, body)


_T = "2026-11-20T09:30:00Z"
_COMPANY = {
    "company_id": "co_sample_1",
    "name": "Acme Data",
    "domain": "acmedata.example",
    "created_at": _T,
    "legal_name": "Acme Data, Inc.",
    "description": "Databases for developers.",
    "industry": "Software",
    "sector": "Information Technology",
    "sub_industry": "Application Software",
    "employees": 120,
    "employees_range": "51-250",
    "estimated_annual_revenue": "$10M-$50M",
    "founded_year": 2016,
    "country": "US",
    "city": "San Francisco",
    "linkedin_handle": "company/acmedata",
    "twitter_handle": "acmedata",
    "tech_stack": ["postgresql", "kubernetes"],
    "enriched_at": _T,
    "enrichment_source": "clearbit_v2",
}
_CONTACT = {
    "contact_id": "ct_sample_1",
    "company_id": "co_sample_1",
    "full_name": "Ada Lovelace",
    "email": "ada@acmedata.example",
    "source": "crm",
    "created_at": _T,
    "title": "Staff Engineer",
    "role": "engineering",
    "seniority": "senior",
    "city": "London",
    "country": "GB",
    "twitter": "ada",
    "github": "ada",
    "linkedin": "in/ada",
    "avatar": None,
    "employment_domain": "acmedata.example",
    "employment_company_id": "co_sample_1",
    "enriched_at": _T,
    "enrichment_source": "clearbit_v2",
}
_DEAL = {
    "deal_id": "deal_sample_1",
    "company_id": "co_sample_1",
    "name": "Acme Data - Team plan",
    "stage": "proposal",
    "amount": 24000.0,
    "created_at": _T,
    "updated_at": _T,
    "stage_changes": 2,
}
_SCORE = {
    "company_id": "co_sample_1",
    "company_name": "Acme Data",
    "company_domain": "acmedata.example",
    "score": 72.5,
    "previous_score": 48.0,
    "tier": "HOT",
    "previous_tier": "WARM",
    "signals": 31,
    "last_signal_at": _T,
    "snapshot_at": _T,
    "previous_snapshot_at": "2026-11-19T09:30:00Z",
}
SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "signal.created": {
        "signal_id": "twitter:1859000000000000001",
        "source": "twitter",
        "signal_type": "twitter_question",
        "occurred_at": _T,
        "contact_id": "ct_sample_1",
        "company_id": "co_sample_1",
        "sentiment": "neutral",
        "sentiment_score": 0.0,
        "url": "https://x.com/ada/status/1859000000000000001",
        "metadata": {"username": "ada", "text": "How do I run acmedb migrations offline?"},
    },
    "contact.created": _CONTACT,
    "contact.updated": {
        **_CONTACT,
        "changed_fields": ["title"],
        "previous": {"title": "Senior Engineer"},
    },
    "company.created": _COMPANY,
    "deal.created": _DEAL,
    "deal.stage_changed": {**_DEAL, "previous_stage": "qualified"},
    "score.changed": {**_SCORE, "tier": "WARM", "previous_tier": "WARM", "score": 58.0},
    "tier.changed": _SCORE,
}


def sample_event(organization_id: str, event_type: str) -> Event:
    """The sample payload for a type, as `webhooks test` sends it (a fresh id, "test": true)."""
    return Event.build(
        organization_id,
        event_type,
        (),
        datetime.now(UTC).replace(microsecond=0),
        SAMPLE_DATA[validate_event_type(event_type)],
        test=True,
    )
