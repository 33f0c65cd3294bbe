"""The X accounts of a sandbox world, the identities CRMs know, and the truth about each account.

Accounts come in kinds an identity resolver must tell apart:

* known: contacts whose X account the CRM already has as an ``Identity`` (about 5% of them have
  renamed their handle since, so ``Identity.username`` is stale; the id is what matters);
* findable: contacts the CRM does not know on X, whose display name equals the contact's full name
  and whose profile URL is on their employer's domain;
* developers: people in no CRM, with no URL, a free-hosting URL, or a personal domain;
* tricky: a handle resembling (or recycling) a known contact's handle with a different id, and
  people whose profile URL is the domain of a company in ANOTHER organization's CRM.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.crm import ascii_slug, random_full_name
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Identity,
    Organization,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.vocabulary import (
    COMPANY_URL_PATHS,
    FREE_SITES,
    INTERESTS,
    LOCATIONS,
    PERSONAL_EMAIL_DOMAINS,
    ROLES,
)
from devsignal_pipelines.sandbox.x.snowflake import TWITTER_EPOCH_MS, x_timestamp

# Accounts are created in a fixed span, not relative to the anchor, so that the accounts (and
# the random draws after them) are the same whatever day the world is anchored on.
_FIRST_ACCOUNT = datetime(2008, 1, 1, tzinfo=UTC)
_LAST_ACCOUNT = datetime(2022, 1, 1, tzinfo=UTC)
_SNOWFLAKE_USER_IDS_FROM = datetime(2014, 1, 1, tzinfo=UTC)
_TCO_ALPHABET = string.ascii_letters + string.digits
_KNOWN_SHARE = 0.35  # contacts whose X identity the CRM knows
_FINDABLE_SHARE = 0.25  # contacts with a company, on X, unknown to the CRM
_RENAMED_SHARE = 0.05


@dataclass
class XPeople:
    """Accounts plus the pools tweet generation draws authors from.

    A pool lists a user id once per unit of activity, so prolific people appear many times and
    ``rng.choice(pool)`` picks authors in proportion to how much they tweet.
    """

    users: dict[str, dict] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    truth: dict[str, TwitterUserTruth] = field(default_factory=dict)
    contact_pool: dict[str, list[str]] = field(default_factory=dict)
    tricky_pool: dict[str, list[str]] = field(default_factory=dict)
    developer_pool: list[str] = field(default_factory=list)
    # Bookkeeping while generating: handles (lowercased) and ids are unique on X.
    taken_handles: set[str] = field(default_factory=set)
    taken_ids: set[str] = field(default_factory=set)


def generate_people(
    rng: random.Random,
    organizations: list[Organization],
    companies: list[Company],
    contacts: list[Contact],
    scale: float,
) -> XPeople:
    people = XPeople()
    by_company = {company.id: company for company in companies}
    for org in organizations:
        org_contacts = [c for c in contacts if c.organization_id == org.id]
        _add_contacts(rng, people, org, org_contacts, by_company)
    for org in organizations:
        _add_tricky(rng, people, org, companies, count=max(2, round(3 * scale)))
    for _ in range(max(10, round(300 * scale))):
        _add_developer(rng, people)
    return people


def _add_contacts(
    rng: random.Random,
    people: XPeople,
    org: Organization,
    org_contacts: list[Contact],
    by_company: dict[str, Company],
) -> None:
    people.contact_pool[org.id] = []
    known: list[tuple[Contact, str]] = []
    for contact in org_contacts:
        draw = rng.random()
        company = by_company.get(contact.company_id) if contact.company_id else None
        if draw < _KNOWN_SHARE:
            handle = _new_handle(rng, people, contact.full_name)
            known.append((contact, handle))
        elif draw < _KNOWN_SHARE + _FINDABLE_SHARE and company is not None:
            url = _company_url(rng, company.domain)
            handle = _new_handle(rng, people, contact.full_name)
            user_id = _add_user(
                rng, people, contact.full_name, handle, url, _bio(rng, company.name)
            )
            truth = TwitterUserTruth(user_id, org.id, contact.id, company.id)
            _record(rng, people, people.contact_pool[org.id], truth)
    renamed = set(rng.sample(range(len(known)), _renamed_count(len(known))))
    for position, (contact, handle) in enumerate(known):
        company = by_company.get(contact.company_id) if contact.company_id else None
        current = _new_handle(rng, people, contact.full_name) if position in renamed else handle
        display_name = _display_name(rng, contact.full_name)
        url = _known_contact_url(rng, company, current)
        bio = _bio(rng, company.name if company else None)
        user_id = _add_user(rng, people, display_name, current, url, bio)
        people.identities.append(Identity(org.id, contact.id, "twitter", user_id, handle))
        truth = TwitterUserTruth(user_id, org.id, contact.id, contact.company_id)
        _record(rng, people, people.contact_pool[org.id], truth)


def _renamed_count(known: int) -> int:
    return max(1, round(known * _RENAMED_SHARE)) if known else 0


def _add_tricky(
    rng: random.Random,
    people: XPeople,
    org: Organization,
    companies: list[Company],
    count: int,
) -> None:
    """Lookalike handles of ``org``'s known contacts, and employees of other orgs' companies."""
    pool = people.tricky_pool.setdefault(org.id, [])
    identities = [i for i in people.identities if i.organization_id == org.id]
    stale = [
        i.username for i in identities if people.users[i.platform_user_id]["username"] != i.username
    ]
    for position in range(count):
        if identities:
            target = rng.choice(identities).username
            # A renamed contact's old handle is free for anyone to take: recycle one verbatim.
            handle = stale[0] if position == 0 and stale else _lookalike(rng, people, target)
            people.taken_handles.add(handle.lower())
            url = _free_site(rng, handle, 0.5)
            user_id = _add_user(rng, people, random_full_name(rng), handle, url, _bio(rng, None))
            _record(rng, people, pool, TwitterUserTruth(user_id, None, None, None))
        outsider = rng.choice([c for c in companies if c.organization_id != org.id])
        name = random_full_name(rng)
        handle = _new_handle(rng, people, name)
        url = _company_url(rng, outsider.domain)
        user_id = _add_user(rng, people, name, handle, url, _bio(rng, outsider.name))
        truth = TwitterUserTruth(user_id, outsider.organization_id, None, outsider.id)
        _record(rng, people, pool, truth)


def _add_developer(rng: random.Random, people: XPeople) -> None:
    name = random_full_name(rng)
    handle = _new_handle(rng, people, name)
    draw = rng.random()
    if draw < 0.1:
        url = f"https://{ascii_slug(name)}.{rng.choice(('me', 'xyz', 'sh'))}"
    elif draw < 0.15:
        url = f"https://www.linkedin.com/in/{ascii_slug(name)}"
    else:
        url = _free_site(rng, handle, 0.35 / 0.85)
    bio = _bio(rng, None)
    if rng.random() < 0.2:
        bio += f" 📧 {handle.lower()}@{rng.choice(PERSONAL_EMAIL_DOMAINS)}"
    user_id = _add_user(rng, people, name, handle, url, bio)
    _record(rng, people, people.developer_pool, TwitterUserTruth(user_id, None, None, None))


def _record(rng: random.Random, people: XPeople, pool: list[str], truth: TwitterUserTruth) -> None:
    """Store the truth and put the user in ``pool`` once per unit of (Pareto) activity."""
    people.truth[truth.user_id] = truth
    activity = min(20, int(rng.paretovariate(1.3)))
    pool.extend([truth.user_id] * activity)


def _add_user(
    rng: random.Random,
    people: XPeople,
    name: str,
    username: str,
    url: str | None,
    description: str,
) -> str:
    """Create the X API v2 user object (every ``user.fields`` field we model) and return its id."""
    created = _FIRST_ACCOUNT + (_LAST_ACCOUNT - _FIRST_ACCOUNT) * rng.random()
    user_id = _user_id(rng, people, created)
    user: dict = {
        "id": user_id,
        "name": name,
        "username": username,
        "created_at": x_timestamp(created),
        "description": description,
        "url": "",
        "protected": False,
        "verified": rng.random() < 0.02,
        "public_metrics": {
            "followers_count": int(rng.paretovariate(0.9) * 40),
            "following_count": rng.randint(10, 1500),
            "tweet_count": rng.randint(20, 40000),
            "listed_count": int(rng.expovariate(0.2)),
        },
        "profile_image_url": (
            f"https://pbs.twimg.com/profile_images/{rng.randrange(10**17, 10**19)}/"
            f"{_random_chars(rng, 8)}_normal.jpg"
        ),
    }
    if url:
        short = "https://t.co/" + _random_chars(rng, 10)
        user["url"] = short
        user["entities"] = {
            "url": {
                "urls": [
                    {
                        "start": 0,
                        "end": len(short),
                        "url": short,
                        "expanded_url": url,
                        "display_url": _display_url(url),
                    }
                ]
            }
        }
    if rng.random() < 0.8:
        user["location"] = rng.choice(LOCATIONS)
    people.users[user_id] = user
    return user_id


def _user_id(rng: random.Random, people: XPeople, created: datetime) -> str:
    """Old accounts have short sequential-era ids, newer ones 18-19 digit snowflakes."""
    while True:
        bits = rng.getrandbits(31)  # one draw either way keeps the random sequence aligned
        if created < _SNOWFLAKE_USER_IDS_FROM:
            candidate = str(10**6 + bits)
        else:
            millis = int(created.timestamp() * 1000) - TWITTER_EPOCH_MS
            candidate = str((millis << 22) | (bits & 0x3FFFFF))
        if candidate not in people.taken_ids:
            people.taken_ids.add(candidate)
            return candidate


def _new_handle(rng: random.Random, people: XPeople, full_name: str) -> str:
    first, _, last = full_name.partition(" ")
    first, last = ascii_slug(first), ascii_slug(last)
    base = rng.choice(
        (
            f"{first}{last}",
            f"{first}_{last}",
            f"{first[0]}{last}",
            f"{first}{last[0]}",
            f"{first}_dev",
            f"{first}codes",
            f"{last}{first[0]}",
            f"{first.title()}{last.title()}",
            f"{first}_builds",
        )
    )[:13]
    handle, suffix = base, 1
    while handle.lower() in people.taken_handles:
        suffix += 1
        handle = f"{base}{suffix}"
    people.taken_handles.add(handle.lower())
    return handle


def _lookalike(rng: random.Random, people: XPeople, handle: str) -> str:
    """A handle a careless matcher would confuse with ``handle``."""
    while True:
        candidate = rng.choice(
            (
                f"{handle}_",
                f"_{handle}",
                f"{handle}1",
                handle.replace("o", "0", 1),
                handle.replace("i", "1", 1),
                f"real{handle}",
                f"{handle}_hq",
            )
        )[:15]
        if candidate.lower() not in people.taken_handles:
            return candidate
        handle = handle + rng.choice("xyz")


def _display_name(rng: random.Random, full_name: str) -> str:
    """Known contacts often show something other than their CRM name on X."""
    draw = rng.random()
    first, _, last = full_name.partition(" ")
    if draw < 0.7:
        return full_name
    if draw < 0.85:
        return f"{first} {last[0]}."
    return f"{first} {rng.choice(('🚀', '🦀', '☕', '| building things'))}"


def _company_url(rng: random.Random, domain: str) -> str:
    host = rng.choice(("www.", "", "blog.")) + domain
    return f"https://{host}{rng.choice(COMPANY_URL_PATHS)}"


def _known_contact_url(rng: random.Random, company: Company | None, handle: str) -> str | None:
    if company is not None and rng.random() < 0.5:
        return _company_url(rng, company.domain)
    return _free_site(rng, handle, 0.5)


def _free_site(rng: random.Random, handle: str, none_share: float) -> str | None:
    if rng.random() < none_share:
        return None
    return rng.choice(FREE_SITES).format(u=handle.lower())


def _bio(rng: random.Random, company_name: str | None) -> str:
    role = rng.choice(ROLES)
    interests = ", ".join(rng.sample(INTERESTS, 2))
    if company_name and rng.random() < 0.6:
        return f"{role} at {company_name}. {interests}."
    return f"{role}. {interests}. Opinions my own."


def _display_url(url: str) -> str:
    bare = url.split("://", 1)[1].removeprefix("www.")
    return bare if len(bare) <= 26 else bare[:26] + "…"


def _random_chars(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(_TCO_ALPHABET) for _ in range(count))
