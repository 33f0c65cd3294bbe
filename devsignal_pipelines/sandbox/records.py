"""The CRM-side records of a sandbox world and the ground truth about X, Stack Overflow and
GitHub users.

They live in their own module so the generators (``crm``, ``x_people``) and ``world`` can all
use them without importing each other. Import them from ``devsignal_pipelines.sandbox.world``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Organization:
    """A DevSignal customer: a devtool company whose product people talk about online.

    ``keywords`` are what its X connector searches for; ``tags`` are the Stack Overflow tags it
    tracks (one generic tag is shared by two organizations, so their rows must stay apart).
    """

    id: str
    name: str
    product: str
    keywords: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Company:
    """An account in an organization's CRM."""

    id: str
    organization_id: str
    name: str
    domain: str


@dataclass(frozen=True)
class Contact:
    """A person in an organization's CRM; ``company_id`` is None for personal-email sign-ups."""

    id: str
    organization_id: str
    company_id: str | None
    full_name: str
    email: str | None


@dataclass(frozen=True)
class Identity:
    """A social account the CRM already knows for a contact.

    ``username`` is the handle the CRM recorded, which may be stale: people rename handles,
    and only ``platform_user_id`` is permanent.
    """

    organization_id: str
    contact_id: str
    platform: str
    platform_user_id: str
    username: str


@dataclass(frozen=True)
class Deal:
    id: str
    organization_id: str
    company_id: str
    name: str
    stage: str
    amount: float
    created_at: datetime


@dataclass(frozen=True)
class ProductSignal:
    """One product-usage event; a contact's signals are in funnel order in time."""

    id: str
    organization_id: str
    contact_id: str
    company_id: str | None
    signal_type: str
    occurred_at: datetime
    properties: dict


@dataclass(frozen=True)
class TwitterUserTruth:
    """Who an X account really is.

    ``organization_id`` is the organization whose CRM holds this person (as a contact, or only
    their employer as a company); None means nobody's CRM knows them. A resolver working for
    organization O should link the account to ``contact_id`` / ``company_id`` only when
    ``organization_id == O``, and to nothing otherwise.
    """

    user_id: str
    organization_id: str | None
    contact_id: str | None
    company_id: str | None


@dataclass(frozen=True)
class StackOverflowUserTruth:
    """Who a Stack Overflow user really is; the same reading rules as ``TwitterUserTruth``.

    ``organization_id`` is the organization whose CRM holds this person (as a contact, or only
    their employer as a company); None means nobody's CRM knows them, and a resolver working for
    another organization must link them to nothing. ``twitter_user_id`` is the same person's X
    account when they have one: a resolver that merges an X author and a Stack Overflow user
    into one contact is right exactly when this field names that X author.
    """

    user_id: int
    organization_id: str | None
    contact_id: str | None
    company_id: str | None
    twitter_user_id: str | None = None


@dataclass(frozen=True)
class GitHubUserTruth:
    """Who a GitHub account really is; the same reading rules as ``TwitterUserTruth``.

    ``organization_id`` is the organization whose CRM holds this person (as a contact, or only
    their employer as a company); None means nobody's CRM knows them (developers, bots, the
    organizations' own members). A company's GitHub organization account has the company's
    ``company_id`` and no contact. ``twitter_user_id`` is the same person's X account when they
    have one, as on ``StackOverflowUserTruth``.
    """

    user_id: int
    organization_id: str | None
    contact_id: str | None
    company_id: str | None
    twitter_user_id: str | None = None
