"""What the enrichment vendor (a Clearbit-compatible API) knows about a sandbox world's CRM.

Kept pure and apart from the route module so tests compute the ground truth without a server:
``Firmographics.from_world(world).expected_company(domain)`` is exactly the 200 body the sandbox
serves. Every record is drawn from ``random.Random`` seeded with a string naming its lookup key
(domain or email; Python seeds from a string with SHA-512, so unlike ``hash()`` it is stable
across processes), never from a shared generator: a record never changes for the same CRM row,
and adding rows to a world changes no other record.

The variety a connector must cope with (shares of CRM lookups; each draw is independent):

- ``not_found`` (404): ~8% of company domains and ~10% of emails, plus anything not in the CRM.
- shape ``v1``: ~5% of found records are served in the legacy v1 shape (top-level
  ``employees``, ``categories[]``, ``raised``; twitter ids as numbers), as an old index would.
- shape ``v2_sparse``: ~15% are the 2016 vintage of v2 (the calvinklein fixture): no ``tech``,
  ``identifiers`` or ``parent``, nulls in linkedin/crunchbase/twitter/github, and
  ``employeesRange`` in the older vocabulary ("1000+").
- shape ``v2``: the rest, keyed exactly like the uber / alexmaccaw docs examples.
- ``queued_first``: ~15% of found records answer 202 ``queued`` to their first request.
- free-mail addresses (gmail.com, ...) are persons with every ``employment`` field null and
  ``emailProvider: true``.

Malformed input and role addresses (info@, ...) are the vendor's 422: ``domain_problem`` and
``email_problem`` say why, in the words the API answers with.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devsignal_pipelines.sandbox.crm import ascii_slug
from devsignal_pipelines.sandbox.records import Company, Contact
from devsignal_pipelines.sandbox.world import World

COMPANY, PERSON = "company", "person"
FOUND, NOT_FOUND, INVALID = "found", "not_found", "invalid"
V2, V2_SPARSE, V1 = "v2", "v2_sparse", "v1"

_NOT_FOUND_SHARE = {COMPANY: 0.08, PERSON: 0.10}
_V1_SHARE, _SPARSE_SHARE, _QUEUED_SHARE = 0.05, 0.15, 0.15

FREE_MAIL_DOMAINS = frozenset(
    ("gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com",
     "icloud.com", "me.com", "aol.com", "proton.me", "protonmail.com", "hey.com", "gmx.de",
     "gmx.net", "web.de", "yandex.ru", "mail.ru", "fastmail.com", "zoho.com", "qq.com")
)  # fmt: skip
ROLE_ACCOUNTS = frozenset(
    ("info", "admin", "administrator", "support", "sales", "noreply", "no-reply", "donotreply",
     "do-not-reply", "contact", "hello", "help", "billing", "office", "team", "webmaster",
     "postmaster", "hostmaster", "abuse", "jobs", "careers", "press", "marketing", "security",
     "privacy", "legal", "root", "mailer-daemon")
)  # fmt: skip
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normalize(raw: str) -> str:
    """The lookup key of a ``domain`` or ``email`` parameter: the vendor ignores case and
    surrounding blanks, nothing else (no ``www.`` stripping: that is the caller's job)."""
    return raw.strip().lower()


def domain_problem(domain: str) -> str | None:
    """Why the vendor refuses ``domain`` (422 ``invalid_domain``), or None if it is a domain."""
    key = normalize(domain)
    if not key:
        return "Missing required parameter: domain"
    if len(key) > 253 or not _DOMAIN.fullmatch(key):
        return f"Invalid domain: {domain!r} is not a domain name"
    return None


def email_problem(email: str) -> str | None:
    """Why the vendor refuses ``email`` (422 ``email_invalid``), or None: malformed addresses
    and role addresses, which belong to no person (the vendor's own rule for info@...)."""
    key = normalize(email)
    if not key:
        return "Missing required parameter: email"
    local, at, domain = key.rpartition("@")
    if not at or len(local) > 64 or not _LOCAL.fullmatch(local) or domain_problem(domain):
        return f"Invalid email: {email!r} is not an email address"
    if local.partition("+")[0] in ROLE_ACCOUNTS:
        return f"Invalid email: {email!r} is a role address, not a person"
    return None


@dataclass(frozen=True)
class LookupTruth:
    """What one lookup answers, once any 202 has been served: the ground truth for tests."""

    kind: str  # COMPANY or PERSON
    key: str  # normalized domain or email
    status: str  # FOUND, NOT_FOUND or INVALID
    queued_first: bool = False  # the first request answers 202 queued, later ones 200
    shape: str | None = None  # V2, V2_SPARSE or V1 when found
    body: dict | None = None  # the 200 body when found (a fresh copy per call)
    problem: str | None = None  # the 422 message when invalid


class Firmographics:
    """The vendor's records for a set of CRM companies and contacts (see the module doc)."""

    def __init__(
        self,
        companies: Iterable[Company],
        contacts: Iterable[Contact],
        x_accounts: Mapping[str, dict] | None = None,
    ) -> None:
        """``x_accounts`` maps a contact id to its X user object: the person's twitter facts."""
        self._companies: dict[str, Company] = {}
        self._company_by_id: dict[str, Company] = {}
        for company in companies:
            self._companies.setdefault(normalize(company.domain), company)
            self._company_by_id[company.id] = company
        self._contacts: dict[str, Contact] = {}
        for contact in contacts:
            if contact.email:
                self._contacts.setdefault(normalize(contact.email), contact)
        self._x_accounts = dict(x_accounts or {})

    @classmethod
    def from_world(cls, world: World) -> Firmographics:
        x_accounts: dict[str, dict] = {}
        for user_id, truth in world.twitter_truth.items():
            if truth.contact_id is not None:
                x_accounts.setdefault(truth.contact_id, world.twitter_users[user_id])
        return cls(world.companies, world.contacts, x_accounts)

    @property
    def domains(self) -> tuple[str, ...]:
        """Every CRM company domain, in world order."""
        return tuple(self._companies)

    @property
    def emails(self) -> tuple[str, ...]:
        """Every CRM contact email, in world order."""
        return tuple(self._contacts)

    def lookup(self, kind: str, raw: str) -> LookupTruth:
        return self.company(raw) if kind == COMPANY else self.person(raw)

    def truths(self, kind: str) -> list[LookupTruth]:
        """The truth of every CRM lookup of ``kind`` (filter it for queued, unknown, v1...)."""
        return [
            self.lookup(kind, key) for key in (self.domains if kind == COMPANY else self.emails)
        ]

    def company(self, domain: str) -> LookupTruth:
        key = normalize(domain)
        problem = domain_problem(domain)
        if problem:
            return LookupTruth(COMPANY, key, INVALID, problem=problem)
        record = self._companies.get(key)
        fate = _fate(COMPANY, key)
        if record is None or fate is None:
            return LookupTruth(COMPANY, key, NOT_FOUND)
        shape, queued = fate
        body = _company_body(record, _rng(COMPANY, key), shape)
        return LookupTruth(COMPANY, key, FOUND, queued, shape, body)

    def person(self, email: str) -> LookupTruth:
        key = normalize(email)
        problem = email_problem(email)
        if problem:
            return LookupTruth(PERSON, key, INVALID, problem=problem)
        record = self._contacts.get(key)
        fate = _fate(PERSON, key)
        if record is None or fate is None:
            return LookupTruth(PERSON, key, NOT_FOUND)
        shape, queued = fate
        employer = self._company_by_id.get(record.company_id or "")
        if key.rpartition("@")[2] in FREE_MAIL_DOMAINS:
            employer = None
        x_user = self._x_accounts.get(record.id)
        body = _person_body(record, key, employer, x_user, _rng(PERSON, key), shape)
        return LookupTruth(PERSON, key, FOUND, queued, shape, body)

    def expected_company(self, domain: str) -> dict | None:
        """The 200 body for ``domain`` (after any 202), or None when the API does not find it."""
        return self.company(domain).body

    def expected_person(self, email: str) -> dict | None:
        return self.person(email).body


def _rng(kind: str, key: str, purpose: str = "facts") -> random.Random:
    return random.Random(f"clearbit:{kind}:{key}:{purpose}")


def _fate(kind: str, key: str) -> tuple[str, bool] | None:
    """(shape, queued first), or None when the vendor does not know the record. Drawn apart
    from the facts so that the shares can change without changing any record's content."""
    rng = _rng(kind, key, "fate")
    if rng.random() < _NOT_FOUND_SHARE[kind]:
        return None
    draw = rng.random()
    shape = V1 if draw < _V1_SHARE else V2_SPARSE if draw < _V1_SHARE + _SPARSE_SHARE else V2
    return shape, rng.random() < _QUEUED_SHARE


# --- vocabulary --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    city: str
    state: str
    state_code: str | None
    country: str
    country_code: str
    lat: float
    lng: float
    time_zone: str
    utc_offset: float
    postal_code: str
    phone_prefix: str
    streets: tuple[str, ...]


_PLACES = (
    _Place("San Francisco", "California", "CA", "United States", "US", 37.7749295, -122.4194155,
           "America/Los_Angeles", -8, "94103", "+1 415", ("Market Street", "Mission Street")),
    _Place("New York", "New York", "NY", "United States", "US", 40.7127837, -74.0059413,
           "America/New_York", -5, "10013", "+1 212", ("Broadway", "Hudson Street")),
    _Place("Seattle", "Washington", "WA", "United States", "US", 47.6062095, -122.3320708,
           "America/Los_Angeles", -8, "98104", "+1 206", ("1st Avenue", "Pike Street")),
    _Place("Austin", "Texas", "TX", "United States", "US", 30.267153, -97.7430608,
           "America/Chicago", -6, "78701", "+1 512", ("Congress Avenue", "West 6th Street")),
    _Place("Boston", "Massachusetts", "MA", "United States", "US", 42.3600825, -71.0588801,
           "America/New_York", -5, "02110", "+1 617", ("Summer Street", "Boylston Street")),
    _Place("London", "England", "ENG", "United Kingdom", "GB", 51.5073509, -0.1277583,
           "Europe/London", 0, "EC1V 9NR", "+44 20", ("City Road", "Old Street")),
    _Place("Berlin", "Berlin", "BE", "Germany", "DE", 52.5200066, 13.404954,
           "Europe/Berlin", 1, "10115", "+49 30", ("Invalidenstraße", "Torstraße")),
    _Place("Amsterdam", "Noord-Holland", "NH", "Netherlands", "NL", 52.3675734, 4.9041389,
           "Europe/Amsterdam", 1, "1012 JS", "+31 20", ("Keizersgracht", "Damrak")),
    _Place("Toronto", "Ontario", "ON", "Canada", "CA", 43.653226, -79.3831843,
           "America/Toronto", -5, "M5V 2T6", "+1 416", ("King Street West", "Spadina Avenue")),
    _Place("Bengaluru", "Karnataka", "KA", "India", "IN", 12.9715987, 77.5945627,
           "Asia/Kolkata", 5.5, "560001", "+91 80", ("MG Road", "Residency Road")),
    _Place("Stockholm", "Stockholms län", None, "Sweden", "SE", 59.3293235, 18.0685808,
           "Europe/Stockholm", 1, "111 20", "+46 8", ("Drottninggatan", "Sveavägen")),
    _Place("Tel Aviv-Yafo", "Tel Aviv District", None, "Israel", "IL", 32.0852999, 34.7817676,
           "Asia/Jerusalem", 2, "6473424", "+972 3", ("Rothschild Boulevard", "Dizengoff Street")),
)  # fmt: skip

# (sector, industryGroup, industry, subIndustry, sicCode, naicsCode), devtool-customer heavy.
_CATEGORIES = (
    ("Information Technology", "Software & Services", "Internet Software & Services",
     "Internet Software & Services", "73", "51"),
    ("Information Technology", "Software & Services", "Software", "Application Software",
     "73", "51"),
    ("Information Technology", "Software & Services", "Software", "Systems Software", "73", "51"),
    ("Information Technology", "Software & Services", "IT Services",
     "Data Processing & Outsourced Services", "73", "51"),
    ("Financials", "Diversified Financials", "Diversified Financial Services",
     "Specialized Finance", "61", "52"),
    ("Health Care", "Health Care Equipment & Services", "Health Care Technology",
     "Health Care Technology", "80", "62"),
    ("Consumer Discretionary", "Retailing", "Internet & Catalog Retail",
     "Internet & Catalog Retail", "59", "45"),
    ("Industrials", "Commercial Services & Supplies", "Professional Services",
     "Research & Consulting Services", "87", "54"),
)  # fmt: skip
_TAGS = (
    "Technology", "SAAS", "B2B", "Enterprise", "Software", "Internet", "Information Technology & "
    "Services", "Developer Tools", "Infrastructure", "Analytics", "Security", "E-commerce", "API",
)  # fmt: skip
_PRODUCTS = (
    "an observability platform", "a data pipeline service", "a payments API",
    "a feature-flag service", "a developer portal", "an internal analytics suite",
    "a mobile backend", "a security scanning tool", "a customer data platform",
)  # fmt: skip
_AUDIENCES = (
    "engineering teams", "fast-growing startups", "enterprises", "online retailers",
    "healthcare providers", "fintech companies",
)  # fmt: skip
_TECH = (
    "aws_ec2", "aws_route_53", "amazon_s3", "google_cloud", "cloudflare", "fastly", "kubernetes",
    "docker", "terraform", "postgresql", "mysql", "redis", "mongodb", "elasticsearch",
    "snowflake", "datadog", "new_relic", "sentry", "pagerduty", "github", "gitlab", "circleci",
    "jenkins", "segment", "stripe", "intercom", "hubspot", "google_analytics", "mixpanel",
    "amplitude", "slack", "atlassian_jira", "okta", "zendesk", "salesforce", "vercel",
    "heroku", "nginx", "react", "google_apps", "microsoft_office_365",
)  # fmt: skip
# (title, role, seniority): Clearbit's role and seniority vocabularies.
_JOBS = (
    ("Founder and CEO", "ceo", "executive"), ("CTO", "engineering", "executive"),
    ("VP of Engineering", "engineering", "executive"),
    ("Director of Platform Engineering", "engineering", "director"),
    ("Engineering Manager", "engineering", "manager"),
    ("Staff Software Engineer", "engineering", None),
    ("Senior Software Engineer", "engineering", None),
    ("Site Reliability Engineer", "engineering", None), ("Data Engineer", "engineering", None),
    ("Developer Advocate", "marketing", None),
    ("Head of Developer Relations", "marketing", "director"),
    ("Product Manager", "product", "manager"), ("VP Product", "product", "executive"),
    ("Head of IT", "information_technology", "director"),
    ("Security Engineer", "information_technology", None),
    ("Account Executive", "sales", None), ("Head of Operations", "operations", "director"),
)  # fmt: skip
_RANGES = ((10, "1-10"), (50, "11-50"), (250, "51-250"), (1000, "251-1K"), (5000, "1K-5K"),
           (10_000, "5K-10K"), (50_000, "10K-50K"), (100_000, "50K-100K"))  # fmt: skip
_OLD_RANGES = ((10, "1-10"), (50, "10-50"), (250, "50-250"), (1000, "250-1000"))
_REVENUE = ((1e6, "$0-$1M"), (1e7, "$1M-$10M"), (5e7, "$10M-$50M"), (1e8, "$50M-$100M"),
            (2.5e8, "$100M-$250M"), (5e8, "$250M-$500M"), (1e9, "$500M-$1B"),
            (1e10, "$1B-$10B"))  # fmt: skip
_ALIAS_TLDS = (".co", ".net", ".app", ".dev")
_FOUNDERS = ("Ada Park", "Tom Reyes", "Ines Vogel", "Ravi Menon", "Kate Olsen", "Marc Duval")
_INDEXED_FROM = datetime(2024, 1, 1, tzinfo=UTC)


# --- companies ---------------------------------------------------------------------------------


def _company_body(record: Company, rng: random.Random, shape: str) -> dict:
    """Draw every fact in one fixed order, then render the shape: the shape never changes
    the facts, so a v1 and a v2 record of the same company agree wherever both have a field."""
    domain, name = normalize(record.domain), record.name
    slug = ascii_slug(name)
    place = rng.choice(_PLACES)
    category = rng.choice(_CATEGORIES)
    employees = round(10 ** rng.uniform(0.6, 4.3))
    public = employees > 2000 and rng.random() < 0.3
    tech = rng.sample(_TECH, rng.randint(4, 12))
    if rng.random() < 0.2:  # the real uber record lists "mixpanel" twice
        tech.insert(rng.randrange(len(tech) + 1), rng.choice(tech))
    facts = {
        "id": _uuid(rng),
        "legal": rng.choice((f"{name}, Inc.", f"{name} Inc", f"{name} Ltd", None)),
        "aliases": [f"{slug}{tld}" for tld in rng.sample(_ALIAS_TLDS, rng.randint(0, 2))],
        "tags": rng.sample(_TAGS, rng.randint(2, 5)),
        "description": f"{name} builds {rng.choice(_PRODUCTS)} for {rng.choice(_AUDIENCES)}.",
        "founded": rng.choice((None, *range(1998, 2023))),
        "street": (str(rng.randint(1, 2500)), rng.choice(place.streets)),
        "raised": rng.choice((None, None, 2e6, 8.5e6, 2.4e7, 6e7, 1.5e8, 4e8)),
        "alexa": (rng.randint(2_000, 900_000), rng.randint(5_000, 4_000_000)),
        "twitter": _twitter_facts(rng, name),
        "facebook": slug if rng.random() < 0.7 else None,
        "founders": sorted(rng.sample(_FOUNDERS, rng.randint(1, 2))),
        "linkedin": f"company/{slug}" if rng.random() < 0.85 else None,
        "crunchbase": f"organization/{slug}" if rng.random() < 0.6 else None,
        "ticker": "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=4)) if public else None,
        "ein": "".join(rng.choices("0123456789", k=9)) if place.country_code == "US" else None,
        "phone": f"{place.phone_prefix} {rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
        "indexed": _indexed_at(rng),
    }
    revenue = employees * rng.uniform(90_000, 320_000)
    if shape == V1:
        return _company_v1(record, domain, place, category, employees, facts)
    metrics = {
        "alexaUsRank": facts["alexa"][0],
        "alexaGlobalRank": facts["alexa"][1],
        "employees": employees,
        "employeesRange": _range(employees, _RANGES, "100K+"),
        "marketCap": round(revenue * 6, -6) if public else None,
        "raised": facts["raised"],
        "annualRevenue": round(revenue, -5) if public else None,
    }
    if shape == V2_SPARSE:
        metrics |= {"googleRank": None, "employeesRange": _range(employees, _OLD_RANGES, "1000+")}
        return _company_v2(record, domain, place, category[:4], metrics, facts, sparse=True)
    metrics |= {
        "estimatedAnnualRevenue": _range(revenue, _REVENUE, "$10B+"),
        "fiscalYearEnd": rng.choice((12, 12, 12, 3, 6)),
    }
    body = _company_v2(record, domain, place, category, metrics, facts, sparse=False)
    return body | {"tech": tech, "parent": {"domain": None}}


def _company_v2(
    record: Company,
    domain: str,
    place: _Place,
    category: tuple[str, ...],
    metrics: dict,
    facts: dict,
    sparse: bool,
) -> dict:
    """The uber docs example's keys, or with ``sparse`` the 2016 calvinklein record's keys."""
    twitter = facts["twitter"]
    keys = ("sector", "industryGroup", "industry", "subIndustry", "sicCode", "naicsCode")
    body: dict = {
        "id": facts["id"],
        "name": record.name,
        "legalName": facts["legal"],
        "domain": domain,
        "domainAliases": facts["aliases"],
        "site": {"phoneNumbers": [facts["phone"]], "emailAddresses": [f"hello@{domain}"]},
        "category": dict(zip(keys, category, strict=False)),
        "tags": facts["tags"],
        "description": facts["description"],
        "foundedYear": facts["founded"],
        "location": _street_address(place, facts["street"]),
        "timeZone": place.time_zone,
        "utcOffset": place.utc_offset,
        "geo": _company_geo(place, facts["street"]),
        "logo": f"https://logo.clearbit.com/{domain}",
        "facebook": {"handle": facts["facebook"]},
        "linkedin": {"handle": None if sparse else facts["linkedin"]},
        "twitter": _company_twitter(twitter, place),
        "crunchbase": {"handle": None if sparse else facts["crunchbase"]},
        "emailProvider": False,
        "type": "public" if facts["ticker"] else "private",
        "ticker": facts["ticker"],
        "identifiers": {"usEIN": facts["ein"]},
        "phone": facts["phone"] if facts["ticker"] else None,
        "indexedAt": facts["indexed"],
        "metrics": metrics,
    }
    if sparse:
        del body["identifiers"]
        body["url"] = f"http://{domain}"
        body["site"] |= {
            "url": f"http://{domain}",
            "title": record.name,
            "h1": None,
            "metaDescription": facts["description"],
            "metaAuthor": None,
        }
    return body


def _company_v1(
    record: Company, domain: str, place: _Place, category: tuple, employees: int, facts: dict
) -> dict:
    """The 2014 legacy shape: flat ``employees`` / ``raised`` and ``categories[]``."""
    twitter = facts["twitter"]
    return {
        "id": facts["id"],
        "name": record.name,
        "legalName": facts["legal"],
        "domain": domain,
        "url": f"http://{domain}",
        "site": {
            "url": f"http://{domain}",
            "title": record.name,
            "h1": None,
            "meta_description": facts["description"],
            "meta_author": None,
        },
        "categories": [category[2], *facts["tags"]],
        "description": facts["description"],
        "founders": facts["founders"],
        "raised": facts["raised"],
        "location": f"{place.city}, {place.state}, {_country_short(place)}",
        "google": {"rank": None},
        "alexa": {"usRank": facts["alexa"][0], "globalRank": facts["alexa"][1]},
        "facebook": {"handle": facts["facebook"]},
        "linkedin": {"handle": facts["linkedin"]},
        "twitter": _company_twitter(twitter, place)
        | {"id": int(twitter["id"]) if twitter else None},
        "employees": employees,
        "logo": f"https://logo.clearbit.com/{domain}",
        "personal": False,
    }


def _twitter_facts(rng: random.Random, name: str) -> dict | None:
    if rng.random() < 0.2:
        return None
    return {
        "handle": name.replace(" ", ""),
        "id": str(rng.randint(10**7, 10**10)),
        "bio": f"{name}: news, releases and status updates. Support: @{name.replace(' ', '')}Help",
        "followers": round(10 ** rng.uniform(2, 5.5)),
        "following": rng.randint(20, 1500),
        "site": "http://t.co/"
        + "".join(rng.choices("abcdefghijkmnopqrstuvwxyzABCDEFGH0123", k=10)),
        "avatar": f"https://pbs.twimg.com/profile_images/{rng.randint(10**17, 10**18)}/"
        f"{rng.getrandbits(64):016x}_normal.png",
    }


def _company_twitter(twitter: dict | None, place: _Place) -> dict:
    keys = ("handle", "id", "bio", "followers", "following", "location", "site", "avatar")
    if twitter is None:
        return dict.fromkeys(keys)
    return {key: place.city if key == "location" else twitter[key] for key in keys}


def _company_geo(place: _Place, street: tuple[str, str]) -> dict:
    return {
        "streetNumber": street[0],
        "streetName": street[1],
        "subPremise": None,
        "city": place.city,
        "postalCode": place.postal_code,
        "state": place.state,
        "stateCode": place.state_code,
        "country": place.country,
        "countryCode": place.country_code,
        "lat": place.lat,
        "lng": place.lng,
    }


def _street_address(place: _Place, street: tuple[str, str]) -> str:
    region = f"{place.state_code or place.state} {place.postal_code}"
    return f"{street[0]} {street[1]}, {place.city}, {region}, {_country_short(place)}"


def _country_short(place: _Place) -> str:
    return "USA" if place.country_code == "US" else place.country


def _range(value: float, bands: tuple[tuple[float, str], ...], top: str) -> str:
    return next((label for bound, label in bands if value <= bound), top)


# --- people ------------------------------------------------------------------------------------


def _person_body(
    record: Contact,
    email: str,
    employer: Company | None,
    x_user: dict | None,
    rng: random.Random,
    shape: str,
) -> dict:
    """A v2 person (alexmaccaw keys; calvinklein keys when sparse) or the legacy v1 shape.
    ``twitter`` is the contact's real X account in the world, so the two sources agree."""
    given, _, family = record.full_name.partition(" ")
    slug = ascii_slug(record.full_name)
    person_id = _uuid(rng)
    place = rng.choice(_PLACES)
    title, role, seniority = rng.choice(_JOBS)
    site = rng.choice((None, None, f"https://{slug}.dev", f"https://{slug}.github.io"))
    handle = rng.choice((slug, f"{ascii_slug(given)}{ascii_slug(family)[:1]}", f"{slug}-dev"))
    has_github, linkedin = rng.random() < 0.65, rng.random() < 0.8
    github = {
        "handle": handle if has_github else None,
        "id": rng.randint(10_000, 150_000_000) if has_github else None,
        "avatar": None,
        "company": employer.name if has_github and employer else None,
        "blog": site if has_github else None,
        "followers": rng.randint(0, 3000) if has_github else None,
        "following": rng.randint(0, 300) if has_github else None,
    }
    if has_github:
        github["avatar"] = f"https://avatars.githubusercontent.com/u/{github['id']}?v=4"
    linkedin_handle = f"in/{slug}-{rng.getrandbits(32):08x}" if linkedin else None
    employment = {
        "domain": normalize(employer.domain) if employer else None,
        "name": employer.name if employer else None,
        "title": title if employer else None,
        "role": role if employer else None,
        "seniority": seniority if employer else None,
    }
    bio = f"{title} at {employer.name}." if employer else None
    common = {
        "id": person_id,
        "name": {"fullName": record.full_name, "givenName": given, "familyName": family or None},
        "email": email,
    }
    twitter = _person_twitter(x_user)
    if shape == V1:
        return common | {
            "gender": None,
            "location": place.city,
            "bio": bio,
            "site": site,
            "avatar": twitter["avatar"],
            "employment": {k: employment[k] for k in ("name", "title", "domain")},
            "facebook": {"handle": None},
            "github": {k: v for k, v in github.items() if k != "id"},
            "twitter": twitter | {"id": int(twitter["id"]) if twitter["id"] else None},
            "linkedin": {"handle": linkedin_handle},
            "googleplus": {"handle": None},
            "angellist": dict.fromkeys(("handle", "bio", "blog", "site", "followers", "avatar")),
            "aboutme": dict.fromkeys(("handle", "bio", "avatar")),
            "gravatar": {"handle": None, "urls": [], "avatar": None, "avatars": []},
        }
    sparse = shape == V2_SPARSE
    located = {
        "location": f"{place.city}, {place.state_code or place.state}, {place.country_code}",
        "timeZone": place.time_zone,
        "utcOffset": place.utc_offset,
        "geo": {
            "city": place.city,
            "state": place.state,
            "stateCode": place.state_code,
            "country": place.country,
            "countryCode": place.country_code,
            "lat": place.lat,
            "lng": place.lng,
        },
    }
    avatar = f"https://d1ts43dypk8bqh.cloudfront.net/v1/avatars/{person_id}"
    tail = {
        "fuzzy": rng.random() < 0.05,
        "emailProvider": email.rpartition("@")[2] in FREE_MAIL_DOMAINS,
        "indexedAt": _indexed_at(rng),
    }
    if sparse:  # calvinklein: every twitter and github field null, no bio, site or avatar
        return (
            common
            | {"gender": None}
            | located
            | {"bio": None, "site": None, "avatar": None, "employment": employment}
            | {
                "facebook": {"handle": None},
                "github": dict.fromkeys(github),
                "twitter": dict.fromkeys((*twitter, "statuses", "favorites")),
                "linkedin": {"handle": linkedin_handle},
                "googleplus": {"handle": None},
                "aboutme": dict.fromkeys(("handle", "bio", "avatar")),
                "gravatar": {"handle": None, "urls": None, "avatar": None, "avatars": []},
            }
            | tail
        )
    return (
        common
        | located
        | {"bio": bio, "site": site, "avatar": avatar, "employment": employment}
        | {
            "facebook": {"handle": None},
            "github": {k: v for k, v in github.items() if k != "id"},
            "twitter": twitter,
            "linkedin": {"handle": linkedin_handle},
            "googleplus": {"handle": None},
            "gravatar": {"handle": None, "urls": [], "avatar": None, "avatars": []},
        }
        | tail
    )


def _person_twitter(user: dict | None) -> dict:
    keys = ("handle", "id", "bio", "followers", "following", "location", "site", "avatar")
    if user is None:
        return dict.fromkeys(keys)
    metrics = user.get("public_metrics", {})
    urls = user.get("entities", {}).get("url", {}).get("urls", [])
    return {
        "handle": user["username"],
        "id": user["id"],
        "bio": user.get("description") or None,
        "followers": metrics.get("followers_count"),
        "following": metrics.get("following_count"),
        "location": user.get("location"),
        "site": urls[0]["expanded_url"] if urls else None,
        "avatar": user.get("profile_image_url"),
    }


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _indexed_at(rng: random.Random) -> str:
    moment = _INDEXED_FROM + timedelta(seconds=rng.randint(0, 400 * 86400))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{rng.randint(0, 999):03d}Z"
