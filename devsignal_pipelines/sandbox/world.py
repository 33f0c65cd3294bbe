"""A deterministic, seeded world: three devtool organizations, their CRMs, and X activity.

The sandbox server answers from a ``World`` and tests and evaluations compare pipeline output
with its ground truth (``twitter_truth``), so the same arguments must always give the same world:
one ``random.Random(seed)`` drives everything, in a fixed order (CRM first, then X accounts, then
tweets, so changing ``tweets`` never changes the CRM or the accounts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.crm import (
    generate_companies,
    generate_contacts,
    generate_deals,
    generate_product_signals,
)
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Deal,
    Identity,
    Organization,
    ProductSignal,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS
from devsignal_pipelines.sandbox.x_people import generate_people
from devsignal_pipelines.sandbox.x_tweets import generate_tweets

__all__ = [
    "Company",
    "Contact",
    "Deal",
    "Identity",
    "Organization",
    "ProductSignal",
    "TwitterUserTruth",
    "World",
    "generate_world",
]

_TWEETS_AT_SCALE_1 = 1500
_AFTER_ANCHOR_SHARE = 0.1


@dataclass
class World:
    seed: int
    scale: float
    anchor: datetime  # the world's "now" (tz-aware UTC); the server clock starts here
    organizations: list[Organization]
    companies: list[Company]
    contacts: list[Contact]
    identities: list[Identity]
    deals: list[Deal]
    product_signals: list[ProductSignal]
    twitter_users: dict[str, dict]  # user id -> X API v2 user object with every user field
    tweets: list[dict]  # X API v2 tweet objects with every tweet field, newest (highest id) first
    twitter_truth: dict[str, TwitterUserTruth]  # user id -> who the account really is


def generate_world(
    seed: int = 7,
    scale: float = 1.0,
    anchor: datetime | None = None,
    tweets: int | None = None,
) -> World:
    """Build the world for ``seed``.

    ``scale`` multiplies the CRM and the number of X accounts (not the 3 organizations).
    ``tweets`` is the number of tweets in the 7 days up to ``anchor`` (default 1,500 x scale);
    another 10% of that is created in the day after ``anchor``, hidden until the server clock
    reaches them. ``anchor`` defaults to today 00:00 UTC; a naive anchor is taken as UTC.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    anchor = _utc(anchor) if anchor is not None else _today_utc()
    before = round(_TWEETS_AT_SCALE_1 * scale) if tweets is None else tweets
    if before < 0:
        raise ValueError(f"tweets must be >= 0, got {tweets}")
    rng = random.Random(seed)
    organizations = list(ORGANIZATIONS)
    companies = generate_companies(rng, seed, organizations, per_org=max(3, round(20 * scale)))
    contacts = generate_contacts(
        rng, seed, organizations, companies, loose_per_org=max(1, round(3 * scale))
    )
    deals = generate_deals(
        rng, seed, organizations, companies, per_org=max(2, round(6 * scale)), anchor=anchor
    )
    signals = generate_product_signals(rng, seed, organizations, contacts, anchor)
    people = generate_people(rng, organizations, companies, contacts, scale)
    after = round(before * _AFTER_ANCHOR_SHARE)
    return World(
        seed=seed,
        scale=scale,
        anchor=anchor,
        organizations=organizations,
        companies=companies,
        contacts=contacts,
        identities=people.identities,
        deals=deals,
        product_signals=signals,
        twitter_users=people.users,
        tweets=generate_tweets(rng, organizations, people, anchor, before, after),
        twitter_truth=people.truth,
    )


def _utc(moment: datetime) -> datetime:
    """A naive anchor (e.g. ``--anchor 2025-03-01`` on the CLI) is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _today_utc() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
