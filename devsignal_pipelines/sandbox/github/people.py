"""The GitHub accounts of a sandbox world, the accounts CRMs know, and the truth about each.

Accounts come in kinds an identity resolver must tell apart (``GitHubUserTruth`` says who each
one really is; a profile shows ``name``, ``company``, ``blog``, ``email``, ``location``, ``bio``
and ``twitter_username`` as real users fill them: mostly empty):

* ``contact``: a CRM contact (contacts on X are likelier to be on GitHub). Name: the CRM full
  name, only the first name, "First L." or nothing. ``company``: "@<login>" of their employer's
  GitHub organization (see below), the employer's name ("Vectorbase", "Vectorbase Inc."), or
  nothing. ``blog``: a page on the employer's domain, a personal site (``<login>.github.io``,
  ``<login>.dev`` ...) or "". ``email``: their CRM email for some, a personal address for a few,
  else null. ``twitter_username``: the handle (no "@") of their own X account for about half of
  those who have one; their truth names that account (``twitter_user_id``) either way.
* ``crm_known``: a contact whose account the CRM already holds as an ``Identity`` (platform
  ``github``, ``platform_user_id`` = the numeric id as a string, ``username`` = the login the CRM
  recorded). A fifth renamed their login since, so ``username`` is stale; one such old login
  now belongs to a stranger (GitHub frees old logins): only the id is safe.
* ``employee``: works at a company of the organization's CRM (``company`` "@<login>" or its
  name, ``blog`` or ``email`` on its domain), is not a contact: truth has the company only.
* ``outsider``: the same for a company of ANOTHER organization's CRM, active in this one's
  repositories: truth names the other organization.
* ``namesake``: shows the full name of two contacts of one organization (ambiguous in that
  CRM) and nothing else; is neither of them.
* ``x_developer``: in no CRM, on X: the same display name and ``twitter_username`` = that X
  handle, ``blog`` often the X profile's website.
* ``developer``: in no CRM and not on X; fresh names (no contact, X or Stack Overflow user has
  them), handles or no name; ``company`` empty or an employer in no CRM ("Freelance",
  "@opensource-guild").
* ``member``: an employee of the organization itself (``github_members``): its own staff
  triaging issues and reviewing pull requests, whose activity is not a signal. Truth: nobody.
* ``bot``: GitHub Apps' accounts (``dependabot[bot]`` ...; ``type`` "Bot"), and ``ghost``, the
  placeholder GitHub shows for deleted accounts. Truth: nobody.
* organizations (``type`` "Organization"): each organization's own account, whose login is the
  organization id and owns its repositories, and one per CRM company.

The "@org" convention: every CRM company K has a GitHub organization account whose login is
K's domain label (``company_org_login``: ``vectorbase.com`` -> ``vectorbase``), whose ``name``
is K's name and whose ``blog`` is ``https://<K's domain>``. A person writing "@vectorbase" in
``company`` works at K; a resolver can learn the mapping by calling GET /users/vectorbase and
reading its ``blog`` domain. Its truth is K (``company_id``), with no contact.

Nobody who is not a contact shows a contact's full name, except namesakes; nobody shows a CRM
email or the handle of someone else's X account, so those are safe evidence.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise

from devsignal_pipelines.sandbox.crm import ascii_slug, normalized_name, random_full_name
from devsignal_pipelines.sandbox.github.objects import full_user, timestamp
from devsignal_pipelines.sandbox.github.vocabulary import (
    BIOS,
    BOTS,
    COMPANY_NAME_FORMS,
    GHOST,
    HANDLE_WORDS,
    OTHER_EMPLOYERS,
    PERSONAL_SITES,
    REPO_PLANS,
)
from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    GitHubUserTruth,
    Identity,
    Organization,
    TwitterUserTruth,
)
from devsignal_pipelines.sandbox.vocabulary import (
    COMPANY_URL_PATHS,
    LOCATIONS,
    PERSONAL_EMAIL_DOMAINS,
)

PLATFORM = "github"
# Accounts are created in a fixed span, not relative to the anchor, so that users (and every
# random draw after them) are the same whatever day the world is anchored on.
_FIRST_ACCOUNT_S = int(datetime(2008, 4, 1, tzinfo=UTC).timestamp())
_LAST_ACCOUNT_S = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
_LAST_UPDATE_S = int(datetime(2024, 12, 1, tzinfo=UTC).timestamp())
# (year, roughly the user id GitHub had reached on January 1st): ids grow with signup time.
_ID_GROWTH = (
    (2008, 1), (2010, 200_000), (2012, 1_300_000), (2014, 6_000_000), (2016, 16_000_000),
    (2018, 35_000_000), (2020, 59_000_000), (2022, 97_000_000), (2024, 153_000_000),
    (2025, 190_000_000),
)  # fmt: skip
_ON_GITHUB_IF_ON_X = 0.6
_ON_GITHUB_OTHERWISE = 0.35
_KNOWN_SHARE = 0.3
_RENAMED_SHARE = 0.2


@dataclass
class GitHubPeople:
    """Accounts plus the pools activity generation draws from.

    A pool lists a user id once per unit of activity (Pareto), so ``rng.choice(pool)`` picks
    prolific people more often; ``*_ids`` list each person once (for stars and forks).
    """

    users: dict[int, dict] = field(default_factory=dict)
    truth: dict[int, GitHubUserTruth] = field(default_factory=dict)
    identities: list[Identity] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)  # org id -> member logins
    owner_ids: dict[str, int] = field(default_factory=dict)  # org id -> its organization account
    member_ids: dict[str, list[int]] = field(default_factory=dict)
    contact_ids: dict[str, list[int]] = field(default_factory=dict)
    tricky_ids: dict[str, list[int]] = field(default_factory=dict)  # employees, outsiders, ...
    x_developer_ids: list[int] = field(default_factory=list)
    developer_ids: list[int] = field(default_factory=list)
    bot_ids: dict[str, int] = field(default_factory=dict)  # login -> id
    ghost_id: int = GHOST[1]
    contact_pool: dict[str, list[int]] = field(default_factory=dict)
    tricky_pool: dict[str, list[int]] = field(default_factory=dict)
    developer_pool: list[int] = field(default_factory=list)
    # Bookkeeping while generating.
    taken_logins: set[str] = field(default_factory=set)  # lowercased, incl. old and X handles
    taken_names: set[str] = field(default_factory=set)  # ascii_slug of names no one may reuse
    crm_emails: set[str] = field(default_factory=set)
    crm_domains: set[str] = field(default_factory=set)


def company_org_login(company: Company) -> str:
    """The login of a CRM company's GitHub organization: its domain label."""
    return company.domain.split(".")[0]


def generate_github_people(
    rng: random.Random,
    organizations: list[Organization],
    companies: list[Company],
    contacts: list[Contact],
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    so_users: dict[int, dict],
    scale: float,
) -> GitHubPeople:
    people = GitHubPeople()
    crm_names = Counter(ascii_slug(c.full_name) for c in contacts)
    people.taken_names = (
        set(crm_names)
        | {ascii_slug(u["name"]) for u in twitter_users.values()}
        | {ascii_slug(u["display_name"]) for u in so_users.values()}
    )
    # X handles are reserved: a login equal to someone else's X handle would be false evidence.
    for user in twitter_users.values():
        handle = user["username"].lower()
        people.taken_logins |= {handle, handle.replace("_", ""), handle.replace("_", "-")}
    people.crm_emails = {c.email.lower() for c in contacts if c.email}
    people.crm_domains = {c.domain for c in companies}
    maker = _Maker(rng, people)
    _add_bots(maker)  # first: their ids are fixed, generated ids must avoid them
    _add_organizations(maker, organizations, companies)
    on_x = {t.contact_id: t.user_id for t in twitter_truth.values() if t.contact_id}
    by_company = {company.id: company for company in companies}
    for org in organizations:
        _add_members(maker, org, count=max(2, round(5 * scale)))
    for org in organizations:
        people.contact_ids[org.id] = []
        people.contact_pool[org.id] = []
        for contact in (c for c in contacts if c.organization_id == org.id):
            x_id = on_x.get(contact.id)
            if rng.random() < (_ON_GITHUB_IF_ON_X if x_id else _ON_GITHUB_OTHERWISE):
                company = by_company.get(contact.company_id) if contact.company_id else None
                x_handle = twitter_users[x_id]["username"] if x_id else None
                _add_contact(maker, org, contact, company, x_id, x_handle)
    _rename_some(maker, contacts)
    for org in organizations:
        people.tricky_ids[org.id] = []
        people.tricky_pool[org.id] = []
        org_contacts = [c for c in contacts if c.organization_id == org.id]
        org_companies = [c for c in companies if c.organization_id == org.id]
        others = [c for c in companies if c.organization_id != org.id]
        for _ in range(max(2, round(5 * scale))):
            _add_worker(maker, org, rng.choice(org_companies))
        for _ in range(max(1, round(3 * scale))):
            _add_worker(maker, org, rng.choice(others))
        _add_namesakes(maker, org, org_contacts, limit=max(2, round(4 * scale)))
    _add_x_developers(
        maker, twitter_users, twitter_truth, crm_names, count=max(3, round(20 * scale))
    )
    for _ in range(max(50, round(900 * scale))):
        _add_developer(maker)
    _recycle_an_old_login(maker)
    return people


class _Maker:
    """Creates accounts (full user objects, as GET /users/{login} returns them) and their truth."""

    def __init__(self, rng: random.Random, people: GitHubPeople) -> None:
        self.rng = rng
        self.people = people

    def add(
        self,
        login: str,
        profile: dict,
        truth: tuple[str | None, str | None, str | None, str | None],
        kind: str = "User",
        user_id: int | None = None,
    ) -> int:
        rng = self.rng
        created = _FIRST_ACCOUNT_S + int((_LAST_ACCOUNT_S - _FIRST_ACCOUNT_S) * rng.random())
        updated = created + int((_LAST_UPDATE_S - created) * rng.random())
        if user_id is None:
            user_id = _user_id_at(created) + rng.randrange(5000)
            while user_id in self.people.users:
                user_id += 1
        followers = int(rng.paretovariate(1.1) * 3) - 3
        counts = (
            rng.randint(0, 80),
            rng.randint(0, 10) if kind == "User" else 0,
            max(0, followers),
            rng.randint(0, 60) if kind == "User" else 0,
        )
        self.people.users[user_id] = full_user(
            user_id, login, kind, profile, counts, timestamp(created), timestamp(updated)
        )
        self.people.taken_logins.add(login.lower())
        organization_id, contact_id, company_id, twitter_user_id = truth
        self.people.truth[user_id] = GitHubUserTruth(
            user_id, organization_id, contact_id, company_id, twitter_user_id
        )
        return user_id

    def record(self, user_id: int, ids: list[int], pool: list[int]) -> None:
        """Put ``user_id`` in a kind's list and, once per unit of activity, in its pool."""
        ids.append(user_id)
        pool.extend([user_id] * min(20, int(self.rng.paretovariate(1.3))))

    def login(self, full_name: str | None = None) -> str:
        """A free login: from ``full_name`` when given (often), else a handle."""
        rng = self.rng
        if full_name and rng.random() < 0.85:
            first, _, last = full_name.partition(" ")
            first, last = ascii_slug(first) or "dev", ascii_slug(last) or "x"
            base = rng.choice(
                (
                    f"{first}{last}",
                    f"{first}-{last}",
                    f"{first[0]}{last}",
                    f"{first}{last[0]}",
                    f"{last}{first[0]}",
                    f"{first}-dev",
                    f"{first.title()}{last.title()}",
                    f"{first}codes",
                )
            )
        else:
            base = f"{rng.choice(HANDLE_WORDS)}{rng.randint(1, 999)}"
        login, suffix = base[:36], 1
        while login.lower() in self.people.taken_logins:
            suffix += 1
            login = f"{base[:36]}{suffix}"
        self.people.taken_logins.add(login.lower())
        return login

    def fresh_full_name(self) -> str | None:
        """A full name no contact, X account, Stack Overflow user or earlier account has."""
        for _ in range(8):
            name = random_full_name(self.rng)
            slug = ascii_slug(name)
            if slug not in self.people.taken_names:
                self.people.taken_names.add(slug)
                return name
        return None

    def personal_site(self, login: str) -> str:
        site = self.rng.choice(PERSONAL_SITES).format(u=login.lower())
        host = site.split("://", 1)[1].split("/", 1)[0]
        return "" if host in self.people.crm_domains else site

    def location(self, share: float = 0.6) -> str | None:
        return self.rng.choice(LOCATIONS) if self.rng.random() < share else None

    def bio(self, share: float = 0.3) -> str | None:
        return self.rng.choice(BIOS) if self.rng.random() < share else None


def _profile(**fields: object) -> dict:
    """A profile: ``blog`` is "" when unset (as GitHub sends it), every other field null."""
    profile: dict = {"blog": ""}
    profile.update({key: value for key, value in fields.items() if value is not None})
    return profile


def _user_id_at(created_s: int) -> int:
    moment = datetime.fromtimestamp(created_s, UTC)
    year = moment.year + (moment.timetuple().tm_yday - 1) / 366
    for (y0, id0), (y1, id1) in pairwise(_ID_GROWTH):
        if year < y1:
            return int(id0 + (id1 - id0) * (year - y0) / (y1 - y0))
    return _ID_GROWTH[-1][1]


def _company_url(rng: random.Random, domain: str) -> str:
    host = rng.choice(("www.", "", "blog.")) + domain
    return f"https://{host}{rng.choice(COMPANY_URL_PATHS)}"


def _company_field(rng: random.Random, company: Company, at_share: float, name_share: float):
    draw = rng.random()
    if draw < at_share:
        return "@" + company_org_login(company)
    if draw < at_share + name_share:
        return rng.choice(COMPANY_NAME_FORMS).format(n=company.name)
    return None


def _add_organizations(
    maker: _Maker, organizations: list[Organization], companies: list[Company]
) -> None:
    """Each organization's own account (owner of its repositories) and one per CRM company."""
    for org in organizations:
        plan = REPO_PLANS[org.id]
        profile = _profile(
            name=org.name,
            blog=f"https://{plan.domain}",
            location=maker.location(0.8),
            bio=f"{org.product} and friends",
        )
        user_id = maker.add(org.id, profile, (None, None, None, None), kind="Organization")
        maker.people.owner_ids[org.id] = user_id
    for company in companies:
        login = company_org_login(company)
        while login.lower() in maker.people.taken_logins:
            login += "-hq"
        profile = _profile(
            name=company.name, blog=f"https://{company.domain}", location=maker.location(0.7)
        )
        truth = (company.organization_id, None, company.id, None)
        maker.add(login, profile, truth, kind="Organization")


def _add_bots(maker: _Maker) -> None:
    for login, user_id in BOTS:
        maker.people.bot_ids[login] = maker.add(
            login, _profile(), (None, None, None, None), kind="Bot", user_id=user_id
        )
    login, ghost_id = GHOST
    maker.people.ghost_id = maker.add(
        login,
        _profile(
            bio="Hi, I'm @ghost! I take the place of user accounts that have been "
            "deleted.\n:ghost:",
            location="Nothing to see here, move along.",
        ),
        (None, None, None, None),
        user_id=ghost_id,
    )


def _add_members(maker: _Maker, org: Organization, count: int) -> None:
    rng, people = maker.rng, maker.people
    plan = REPO_PLANS[org.id]
    people.members[org.id] = []
    people.member_ids[org.id] = []
    for _ in range(count):
        name = maker.fresh_full_name()
        login = maker.login(name)
        first = ascii_slug(name.partition(" ")[0]) if name else login.lower()
        profile = _profile(
            name=name,
            company=f"@{org.id}" if rng.random() < 0.6 else org.name,
            blog=f"https://{plan.domain}" if rng.random() < 0.3 else "",
            email=f"{first}@{plan.domain}" if rng.random() < 0.2 else None,
            location=maker.location(),
            bio=maker.bio(),
        )
        user_id = maker.add(login, profile, (None, None, None, None))
        people.members[org.id].append(login)
        people.member_ids[org.id].append(user_id)


def _add_contact(
    maker: _Maker,
    org: Organization,
    contact: Contact,
    company: Company | None,
    x_id: str | None,
    x_handle: str | None,
) -> None:
    rng, people = maker.rng, maker.people
    truth = (org.id, contact.id, contact.company_id, x_id)
    known = rng.random() < _KNOWN_SHARE
    first, _, last = contact.full_name.partition(" ")
    draw = rng.random()
    if draw < (0.4 if known else 0.65):
        name: str | None = contact.full_name
    elif draw < 0.75:
        name = None
    elif draw < 0.88:
        name = first
    else:
        name = f"{first} {last[:1]}."
    login = maker.login(contact.full_name)
    if company is not None:
        company_field = _company_field(rng, company, 0.35, 0.25)
    else:
        company_field = rng.choice(OTHER_EMPLOYERS) if rng.random() < 0.3 else None
    site_draw = rng.random()
    if company is not None and site_draw < 0.2:
        blog = _company_url(rng, company.domain)
    elif site_draw < 0.45:
        blog = maker.personal_site(login)
    else:
        blog = ""
    email_draw = rng.random()
    if email_draw < 0.2:
        email = contact.email
    elif email_draw < 0.3:
        email = f"{login.lower()}@{rng.choice(PERSONAL_EMAIL_DOMAINS)}"
    else:
        email = None
    profile = _profile(
        name=name,
        company=company_field,
        blog=blog,
        email=email,
        location=maker.location(),
        hireable=True if rng.random() < 0.15 else None,
        bio=maker.bio(),
        twitter_username=x_handle if x_handle and rng.random() < 0.55 else None,
    )
    user_id = maker.add(login, profile, truth)
    maker.record(user_id, people.contact_ids[org.id], people.contact_pool[org.id])
    if known:
        people.identities.append(Identity(org.id, contact.id, PLATFORM, str(user_id), login))


def _rename_some(maker: _Maker, contacts: list[Contact]) -> None:
    """A fifth of the CRM-known accounts (at least one per organization) renamed their login
    after the CRM recorded it: the CRM holds the old one."""
    people = maker.people
    names = {contact.id: contact.full_name for contact in contacts}
    by_org: dict[str, list[int]] = {}
    for position, identity in enumerate(people.identities):
        by_org.setdefault(identity.organization_id, []).append(position)
    for positions in by_org.values():
        count = max(1, round(len(positions) * _RENAMED_SHARE))
        for position in sorted(maker.rng.sample(positions, count)):
            identity = people.identities[position]
            old = maker.login(names[identity.contact_id])  # the login before the rename
            people.identities[position] = replace(identity, username=old)


def _add_worker(maker: _Maker, org: Organization, company: Company) -> None:
    """Someone at ``company`` who is not a contact (an employee if it is ``org``'s company, an
    outsider if another organization's), active in ``org``'s repositories."""
    rng, people = maker.rng, maker.people
    name = maker.fresh_full_name()
    login = maker.login(name)
    company_field = _company_field(rng, company, 0.4, 0.3)
    blog = _company_url(rng, company.domain) if rng.random() < 0.6 else ""
    email = None
    if name and rng.random() < 0.25:
        first, _, last = name.partition(" ")
        candidate = f"{ascii_slug(first)}.{ascii_slug(last)}@{company.domain}"
        email = None if candidate in people.crm_emails else candidate
    if company_field is None and not blog and email is None:
        blog = _company_url(rng, company.domain)
    profile = _profile(
        name=name,
        company=company_field,
        blog=blog,
        email=email,
        location=maker.location(),
        bio=maker.bio(),
    )
    truth = (company.organization_id, None, company.id, None)
    user_id = maker.add(login, profile, truth)
    maker.record(user_id, people.tricky_ids[org.id], people.tricky_pool[org.id])


def _add_namesakes(
    maker: _Maker, org: Organization, org_contacts: list[Contact], limit: int
) -> None:
    """One stranger per name two contacts of ``org`` share (up to ``limit``), showing only it."""
    groups: dict[str, list[Contact]] = {}
    for contact in org_contacts:
        groups.setdefault(normalized_name(contact.full_name), []).append(contact)
    for group in [group for group in groups.values() if len(group) > 1][:limit]:
        name = maker.rng.choice(group).full_name
        login = maker.login()
        user_id = maker.add(login, _profile(name=name), (None, None, None, None))
        people = maker.people
        maker.record(user_id, people.tricky_ids[org.id], people.tricky_pool[org.id])


def _add_x_developers(
    maker: _Maker,
    twitter_users: dict[str, dict],
    twitter_truth: dict[str, TwitterUserTruth],
    crm_names: Counter[str],
    count: int,
) -> None:
    """Developers in no CRM who are on X: same display name, ``twitter_username`` = the handle.

    Only X accounts whose name is unique on X and is no contact's name.
    """
    x_names = Counter(ascii_slug(user["name"]) for user in twitter_users.values())
    eligible = [
        user_id
        for user_id, truth in twitter_truth.items()
        if truth.organization_id is None
        and x_names[ascii_slug(twitter_users[user_id]["name"])] == 1
        and ascii_slug(twitter_users[user_id]["name"]) not in crm_names
    ]
    rng, people = maker.rng, maker.people
    for x_id in rng.sample(eligible, min(count, len(eligible))):
        user = twitter_users[x_id]
        website = ""
        if "entities" in user and rng.random() < 0.6:
            website = user["entities"]["url"]["urls"][0]["expanded_url"]
        login = maker.login(user["name"])
        profile = _profile(
            name=user["name"],
            blog=website,
            location=maker.location(),
            bio=maker.bio(),
            twitter_username=user["username"],
        )
        user_id = maker.add(login, profile, (None, None, None, x_id))
        maker.record(user_id, people.x_developer_ids, people.developer_pool)


def _add_developer(maker: _Maker) -> None:
    rng, people = maker.rng, maker.people
    draw = rng.random()
    name = maker.fresh_full_name() if draw < 0.45 else None
    login = maker.login(name)
    site_draw = rng.random()
    if site_draw < 0.5:
        blog = ""
    elif site_draw < 0.9:
        blog = maker.personal_site(login)
    else:
        blog = f"https://www.linkedin.com/in/{login.lower()}"
    profile = _profile(
        name=name if name else (login if draw > 0.8 else None),
        company=rng.choice(OTHER_EMPLOYERS) if rng.random() < 0.25 else None,
        blog=blog,
        email=(
            f"{login.lower()}@{rng.choice(PERSONAL_EMAIL_DOMAINS)}" if rng.random() < 0.15 else None
        ),
        location=maker.location(0.5),
        hireable=True if rng.random() < 0.1 else None,
        bio=maker.bio(),
    )
    user_id = maker.add(login, profile, (None, None, None, None))
    maker.record(user_id, people.developer_ids, people.developer_pool)


def _recycle_an_old_login(maker: _Maker) -> None:
    """GitHub frees a renamed account's old login: a developer took the first stale one."""
    people = maker.people
    current = {user["login"].lower() for user in people.users.values()}
    stale = [i for i in people.identities if i.username.lower() not in current]
    if not stale:
        return
    old = stale[0].username
    profile = _profile(blog=maker.personal_site(old), location=maker.location())
    user_id = maker.add(old, profile, (None, None, None, None))
    maker.record(user_id, people.developer_ids, people.developer_pool)
