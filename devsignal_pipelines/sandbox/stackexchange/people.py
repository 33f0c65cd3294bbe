"""The Stack Overflow users of a sandbox world, the accounts CRMs know, and the truth about each.

Users come in kinds an identity resolver must tell apart (``StackOverflowUserTruth`` says who
each one really is):

* ``crm_website``: a contact showing their CRM full name, ``website_url`` on their employer's
  domain;
* ``crm_name``: a contact showing their CRM full name and no website; only contacts whose name is
  unique across every CRM, so an exact normalized-name match is right;
* ``crm_known``: a contact whose account the CRM already has as an ``Identity`` (platform
  ``stackoverflow``, ``platform_user_id`` = the user_id as a string); they show anything (a
  handle, "First L.", ``user<id>``) and a fifth renamed since, so only the id matches;
* ``employee``: works at a company of the organization's CRM (website on its domain), no contact;
* ``outsider``: website on a company of ANOTHER organization's CRM, posting in this one's tags;
* ``namesake``: shows the full name of two contacts of one organization (an ambiguous name), no
  website, and is neither of them: a name match must not link them;
* ``x_developer``: in no CRM, also on X with the same display name and the same website;
* ``developer``: in no CRM and not on X; a handle, ``user<id>``, or a full name that no contact
  and no X account has, so no name match can link them by accident.

Contacts who are on X are twice as likely to be on Stack Overflow, so one person on both
platforms is common; their truth names the X account (``twitter_user_id``).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.crm import ascii_slug, normalized_name, random_full_name
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Identity,
    Organization,
    StackOverflowUserTruth,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.stackexchange.vocabulary import (
    FREE_WEBSITES,
    HANDLE_WORDS,
    PERSONAL_TLDS,
)
from devsignal_pipelines.sandbox.vocabulary import COMPANY_URL_PATHS, LOCATIONS

PLATFORM = "stackoverflow"
# Accounts are created in a fixed span, not relative to the anchor, so that users (and every
# random draw after them) are the same whatever day the world is anchored on.
_FIRST_ACCOUNT_S = int(datetime(2009, 1, 1, tzinfo=UTC).timestamp())
_LAST_ACCOUNT_S = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
_LAST_USER_ID = 24_000_000  # roughly the user_id Stack Overflow had reached by _LAST_ACCOUNT_S
_ON_SO_IF_ON_X = 0.5
_ON_SO_OTHERWISE = 0.25
_RENAMED_SHARE = 0.2


@dataclass
class SOPeople:
    """Users plus the pools post generation draws owners from (one entry per unit of activity)."""

    users: dict[int, dict] = field(default_factory=dict)
    truth: dict[int, StackOverflowUserTruth] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    contact_pool: dict[str, list[int]] = field(default_factory=dict)
    tricky_pool: dict[str, list[int]] = field(default_factory=dict)
    developer_pool: list[int] = field(default_factory=list)
    # Users whose display name matches no contact other than themselves in ANY organization.
    # Questions with a tag two organizations track are read by both, so only these users own
    # them: anyone else would be a name match the other organization's resolver cannot refuse.
    cross_org_safe: set[int] = field(default_factory=set)
    # Bookkeeping while generating.
    crm_names: Counter[str] = field(default_factory=Counter)  # ascii_slug -> contacts with it
    taken_names: set[str] = field(default_factory=set)  # ascii_slug of names no one may reuse
    taken_account_ids: set[int] = field(default_factory=set)


def generate_so_people(
    rng: random.Random,
    organizations: list[Organization],
    companies: list[Company],
    contacts: list[Contact],
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    scale: float,
    anchor_s: int,
) -> SOPeople:
    people = SOPeople()
    crm_names = people.crm_names = Counter(ascii_slug(c.full_name) for c in contacts)
    people.taken_names = set(crm_names) | {ascii_slug(u["name"]) for u in twitter_users.values()}
    on_x = {t.contact_id: t.user_id for t in twitter_truth.values() if t.contact_id}
    by_company = {company.id: company for company in companies}
    maker = _UserMaker(rng, people, anchor_s)
    for org in organizations:
        org_contacts = [c for c in contacts if c.organization_id == org.id]
        people.contact_pool[org.id] = []
        for contact in org_contacts:
            x_id = on_x.get(contact.id)
            if rng.random() < (_ON_SO_IF_ON_X if x_id else _ON_SO_OTHERWISE):
                company = by_company.get(contact.company_id) if contact.company_id else None
                unique = crm_names[ascii_slug(contact.full_name)] == 1
                _add_contact(maker, org, contact, company, unique, x_id)
    for org in organizations:
        people.tricky_pool[org.id] = []
        org_contacts = [c for c in contacts if c.organization_id == org.id]
        _add_employees(maker, org, companies, count=max(2, round(4 * scale)))
        _add_outsiders(maker, org, companies, count=max(1, round(2 * scale)))
        _add_namesakes(maker, org, org_contacts, limit=max(2, round(4 * scale)))
    _add_x_developers(
        maker, twitter_users, twitter_truth, crm_names, count=max(3, round(15 * scale))
    )
    for _ in range(max(20, round(220 * scale))):
        _add_developer(maker)
    return people


class _UserMaker:
    """Builds full ``user`` objects (the shape of GET /users/{ids}) and records their truth."""

    def __init__(self, rng: random.Random, people: SOPeople, anchor_s: int) -> None:
        self.rng = rng
        self.people = people
        self.anchor_s = anchor_s

    def add(
        self,
        display_name: str | None,
        website: str,
        truth: tuple[str | None, str | None, str | None, str | None],
        pool: list[int],
        own_name: str | None = None,
    ) -> int:
        """Create a user (``display_name`` None = Stack Overflow's default ``user<id>``).

        ``own_name`` is the CRM full name when the user is a contact.
        """
        rng = self.rng
        created = _FIRST_ACCOUNT_S + int((_LAST_ACCOUNT_S - _FIRST_ACCOUNT_S) * rng.random())
        share = (created - _FIRST_ACCOUNT_S) / (_LAST_ACCOUNT_S - _FIRST_ACCOUNT_S)
        user_id = 1000 + int(share * _LAST_USER_ID) + rng.randrange(1000)
        while user_id in self.people.users:
            user_id += 1
        account_id = rng.randrange(10_000, 33_000_000)
        while account_id in self.people.taken_account_ids:
            account_id += 1
        self.people.taken_account_ids.add(account_id)
        name = display_name if display_name is not None else f"user{user_id}"
        self.people.users[user_id] = self._user(user_id, account_id, name, website, created)
        organization_id, contact_id, company_id, twitter_user_id = truth
        self.people.truth[user_id] = StackOverflowUserTruth(
            user_id, organization_id, contact_id, company_id, twitter_user_id
        )
        slug = ascii_slug(name)
        namesakes = self.people.crm_names[slug]
        if namesakes == 0 or (namesakes == 1 and own_name and slug == ascii_slug(own_name)):
            self.people.cross_org_safe.add(user_id)
        pool.extend([user_id] * min(20, int(rng.paretovariate(1.3))))
        return user_id

    def _user(self, user_id: int, account_id: int, name: str, website: str, created: int) -> dict:
        rng = self.rng
        reputation = int(min(400_000, 1 + rng.paretovariate(0.6) * 5))
        year = int(reputation * rng.random() * 0.3)
        quarter = int(year * rng.random() * 0.5)
        month = int(quarter * rng.random() * 0.5)
        week = int(month * rng.random() * 0.4)
        last_access = max(created, self.anchor_s - rng.randrange(30 * 86_400))
        user: dict = {
            "badge_counts": {
                "bronze": reputation // 150 + rng.randint(0, 3),
                "silver": reputation // 1500,
                "gold": reputation // 25_000,
            },
            "account_id": account_id,
            "is_employee": False,
        }
        if rng.random() < 0.5:
            user["last_modified_date"] = created + int((last_access - created) * rng.random())
        user |= {
            "last_access_date": last_access,
            "reputation_change_year": year,
            "reputation_change_quarter": quarter,
            "reputation_change_month": month,
            "reputation_change_week": week,
            "reputation_change_day": int(week * rng.random() * 0.3),
            "reputation": reputation,
            "creation_date": created,
            "user_type": "registered",
            "user_id": user_id,
        }
        if rng.random() < 0.4:
            user["accept_rate"] = rng.randint(0, 100)
        if rng.random() < 0.7:
            user["location"] = rng.choice(LOCATIONS)
        user["website_url"] = website
        user["link"] = f"https://stackoverflow.com/users/{user_id}/{_link_slug(name)}"
        user["profile_image"] = _profile_image(rng)
        user["display_name"] = name
        return user

    def fresh_full_name(self) -> str | None:
        """A full name no contact, X account or earlier user has; None after a few misses."""
        for _ in range(8):
            name = random_full_name(self.rng)
            slug = ascii_slug(name)
            if slug not in self.people.taken_names:
                self.people.taken_names.add(slug)
                return name
        return None

    def handle(self, full_name: str | None = None) -> str:
        rng = self.rng
        if full_name and rng.random() < 0.5:
            first, _, last = full_name.partition(" ")
            return f"{ascii_slug(first)}{ascii_slug(last)[:1]}{rng.randint(1, 99)}"
        return f"{rng.choice(HANDLE_WORDS)}{rng.randint(1, 9999)}"


def _add_contact(
    maker: _UserMaker,
    org: Organization,
    contact: Contact,
    company: Company | None,
    unique_name: bool,
    x_id: str | None,
) -> None:
    rng, people = maker.rng, maker.people
    pool = people.contact_pool[org.id]
    truth = (org.id, contact.id, contact.company_id, x_id)
    draw = rng.random()
    if company is not None and (draw < 0.45 or (draw < 0.75 and not unique_name)):
        website = _company_url(rng, company.domain)
        maker.add(contact.full_name, website, truth, pool, contact.full_name)
    elif draw < 0.75 and unique_name:
        maker.add(contact.full_name, "", truth, pool, contact.full_name)
    else:
        _add_known_contact(maker, org, contact, company, truth, pool)


def _add_known_contact(
    maker: _UserMaker,
    org: Organization,
    contact: Contact,
    company: Company | None,
    truth: tuple[str | None, str | None, str | None, str | None],
    pool: list[int],
) -> None:
    """A contact whose account the CRM recorded, under the display name they had back then."""
    rng = maker.rng
    first, _, last = contact.full_name.partition(" ")
    draw = rng.random()
    display: str | None
    if draw < 0.4:
        display = contact.full_name
    elif draw < 0.6:
        display = f"{first} {last[:1]}."
    elif draw < 0.8:
        display = maker.handle(contact.full_name)
    else:
        display = None  # user<id>
    site_draw = rng.random()
    if company is not None and site_draw < 0.2:
        website = _company_url(rng, company.domain)
    elif site_draw < 0.5:
        website = _free_website(rng, maker.handle(contact.full_name))
    else:
        website = ""
    user_id = maker.add(display, website, truth, pool, contact.full_name)
    recorded = maker.people.users[user_id]["display_name"]
    if rng.random() < _RENAMED_SHARE:
        recorded = maker.handle(contact.full_name) if recorded == contact.full_name else first
    maker.people.identities.append(Identity(org.id, contact.id, PLATFORM, str(user_id), recorded))


def _add_employees(
    maker: _UserMaker, org: Organization, companies: list[Company], count: int
) -> None:
    """People at the organization's CRM companies who are not contacts: a company, no contact."""
    org_companies = [c for c in companies if c.organization_id == org.id]
    for _ in range(count):
        company = maker.rng.choice(org_companies)
        name = maker.fresh_full_name()
        website = _company_url(maker.rng, company.domain)
        truth = (org.id, None, company.id, None)
        maker.add(name or maker.handle(), website, truth, maker.people.tricky_pool[org.id])


def _add_outsiders(
    maker: _UserMaker, org: Organization, companies: list[Company], count: int
) -> None:
    """Employees of another organization's CRM company, asking about this organization's tags."""
    others = [c for c in companies if c.organization_id != org.id]
    for _ in range(count):
        company = maker.rng.choice(others)
        name = maker.fresh_full_name()
        website = _company_url(maker.rng, company.domain)
        truth = (company.organization_id, None, company.id, None)
        maker.add(name or maker.handle(), website, truth, maker.people.tricky_pool[org.id])


def _add_namesakes(
    maker: _UserMaker, org: Organization, org_contacts: list[Contact], limit: int
) -> None:
    """One stranger per ambiguous name (two contacts of ``org`` share it), up to ``limit``.

    The CRM is generated before Stack Overflow and must not change, so ambiguity is what the
    CRM already has: at seed 7, scale 1, nimbus and quill each have one shared name.
    """
    groups: dict[str, list[Contact]] = {}
    for contact in org_contacts:
        groups.setdefault(normalized_name(contact.full_name), []).append(contact)
    shared = [group for group in groups.values() if len(group) > 1][:limit]
    for group in shared:
        display = maker.rng.choice(group).full_name
        maker.add(display, "", (None, None, None, None), maker.people.tricky_pool[org.id])


def _add_x_developers(
    maker: _UserMaker,
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    crm_names: Counter[str],
    count: int,
) -> None:
    """Developers in no CRM who are on X too: same display name and same website on both.

    Only X accounts whose name is unique on X and is no contact's name, so the name and the
    website together point at exactly one X account and at no contact.
    """
    x_names = Counter(ascii_slug(user["name"]) for user in twitter_users.values())
    eligible = []
    for user_id, truth in twitter_truth.items():
        user = twitter_users[user_id]
        slug = ascii_slug(user["name"])
        if (
            truth.organization_id is None
            and "entities" in user
            and x_names[slug] == 1
            and slug not in crm_names
        ):
            eligible.append(user_id)
    for x_id in maker.rng.sample(eligible, min(count, len(eligible))):
        user = twitter_users[x_id]
        website = user["entities"]["url"]["urls"][0]["expanded_url"]
        maker.add(user["name"], website, (None, None, None, x_id), maker.people.developer_pool)


def _add_developer(maker: _UserMaker) -> None:
    rng = maker.rng
    draw = rng.random()
    full_name = maker.fresh_full_name() if draw < 0.35 else None
    if full_name is not None:
        display: str | None = full_name
    elif draw < 0.6:
        display = None  # user<id>
    else:
        display = maker.handle()
    site_draw = rng.random()
    if site_draw < 0.45:
        website = ""
    elif site_draw < 0.8:
        website = _free_website(rng, maker.handle(full_name))
    elif site_draw < 0.95:
        base = ascii_slug(full_name) if full_name else maker.handle()
        website = f"https://{base}{rng.choice(PERSONAL_TLDS)}"
    else:
        website = f"https://www.linkedin.com/in/{maker.handle(full_name)}"
    maker.add(display, website, (None, None, None, None), maker.people.developer_pool)


def _company_url(rng: random.Random, domain: str) -> str:
    host = rng.choice(("www.", "", "blog.")) + domain
    return f"https://{host}{rng.choice(COMPANY_URL_PATHS)}"


def _free_website(rng: random.Random, handle: str) -> str:
    return rng.choice(FREE_WEBSITES).format(u=handle.lower())


def _link_slug(display_name: str) -> str:
    """Stack Overflow's profile URL slug: "Jon Skeet" -> "jon-skeet"."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "user"


def _profile_image(rng: random.Random) -> str:
    if rng.random() < 0.7:
        digest = f"{rng.getrandbits(128):032x}"
        return f"https://www.gravatar.com/avatar/{digest}?s=256&d=identicon&r=PG"
    return f"https://i.sstatic.net/{rng.getrandbits(40):010x}.jpg?s=256"
