"""A large, fast, vectorized identity world for the resolution benchmark (numpy, no per-row loops).

One organization with `companies` companies and `contacts` contacts, and `authors` X and Stack
Overflow profiles of every kind the resolver must tell apart, each with its ground truth:

  X                          Stack Overflow
  known (CRM identity)       known (CRM identity)
  company URL + CRM name     website on the company + CRM name
  company URL, new person    website on the company, new person
  two companies' URLs        CRM name, no website (unique in the CRM)
  twin (also on SO)          twin of an X developer (same name; 80% also the same site)
  developer                  namesake of two contacts (ambiguous), developer

Developers get names from the same space as contacts (1,000 x 64,000 combinations), so some
share a CRM name by chance, as strangers do: that is where a name-only rule goes wrong.
`truth` has, per profile, the contact and company a correct resolver links it to (an SO twin
should land on the contact its X account created, whose id is deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from devsignal_pipelines.lib.identity.rules import new_contact_id
from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.stores.tables import RAW_SO_USERS, RAW_TWITTER_USERS

ORGANIZATION_ID = "scale"
_ONSETS = np.array(list("bdfgklmnprstvz"))
_VOWELS = np.array(["a", "e", "i", "o", "u", "ai", "ei", "ou"])
_ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}
_TLDS = np.array([".io", ".dev", ".com", ".ai", ".co"])
_FREE_SITES = np.array(
    [
        "https://{u}.github.io",
        "https://github.com/{u}",
        "https://{u}.vercel.app",
        "https://medium.com/@{u}",
        "https://dev.to/{u}",
        "https://{u}.netlify.app",
    ]
)
_MAIL = np.array(["gmail.com", "proton.me", "outlook.com", "hey.com"])
_COMPANY_HOSTS = np.array(["https://www.", "https://", "https://blog.", "http://"])
_COMPANY_PATHS = np.array(["", "/team", "/about", "/blog", "/careers"])
# Shares of the X and Stack Overflow profiles by kind (the rest are developers).
X_KINDS = {
    "known": 0.057,
    "domain_name": 0.043,
    "employee": 0.043,
    "two_companies": 0.007,
    "twin": 0.057,
}
SO_KINDS = {"known": 0.067, "domain_name": 0.067, "employee": 0.05, "name": 0.083, "namesake": 0.017}  # fmt: skip


@dataclass
class ScaleWorld:
    organization_id: str
    companies: pd.DataFrame  # control-DB rows: id, organization_id, name, domain
    contacts: pd.DataFrame  # id, organization_id, company_id, full_name, email, source
    identities: pd.DataFrame  # organization_id, platform, platform_user_id, contact_id, username
    twitter_users: pd.DataFrame  # raw.twitter_users rows
    so_users: pd.DataFrame  # raw.so_users rows
    truth: pd.DataFrame  # platform, platform_user_id, kind, contact_id, company_id


def generate_identity_scale(
    authors: int = 1_000_000,
    contacts: int = 200_000,
    companies: int = 50_000,
    twitter_share: float = 0.7,
    seed: int = 7,
) -> ScaleWorld:
    """Build the world; the same arguments always give the same frames."""
    rng = np.random.default_rng(seed)
    org = ORGANIZATION_ID
    first_names, last_names = _name_pools(rng)
    company = _companies(rng, companies)
    contact = _contacts(rng, contacts, company, first_names, last_names)
    n_x = round(authors * twitter_share)
    n_so = authors - n_x
    x, x_identities = _twitter(rng, n_x, contact, company, first_names, last_names)
    so, so_identities = _stackoverflow(rng, n_so, contact, company, first_names, last_names, x)
    identities = pd.concat([x_identities, so_identities], ignore_index=True)
    identities.insert(0, "organization_id", org)
    truth = pd.concat([x[_TRUTH], so[_TRUTH]], ignore_index=True)
    # An SO twin of an X developer belongs on the contact that X account created.
    twins = truth["kind"].eq("twin") & truth["platform"].eq("stackoverflow")
    truth.loc[twins, "contact_id"] = [
        new_contact_id(org, "twitter", uid) for uid in so.loc[so["kind"].eq("twin"), "twin_of"]
    ]
    return ScaleWorld(
        organization_id=org,
        companies=company.assign(organization_id=org)[["id", "organization_id", "name", "domain"]],
        contacts=contact.assign(organization_id=org, source="crm")[
            ["id", "organization_id", "company_id", "full_name", "email", "source"]
        ],
        identities=identities,
        twitter_users=_raw_twitter(org, x),
        so_users=_raw_so(org, so),
        truth=truth,
    )


_TRUTH = ["platform", "platform_user_id", "kind", "contact_id", "company_id"]


def _syllables(rng: np.random.Generator, count: int, parts: int) -> np.ndarray:
    words = np.full(count, "", dtype=object)
    for _ in range(parts):
        words = words + rng.choice(_ONSETS, count).astype(object) + rng.choice(_VOWELS, count)
    return words


def _name_pools(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    first = pd.unique(_syllables(rng, 1_400, 2))[:1_000]
    last = pd.unique(_syllables(rng, 90_000, 3))[:64_000]
    return np.array([w.title() for w in first]), np.array([w.title() for w in last])


def _names(rng: np.random.Generator, count: int, first: np.ndarray, last: np.ndarray) -> pd.Series:
    return pd.Series(rng.choice(first, count), dtype=object) + " " + rng.choice(last, count)


def _accent(rng: np.random.Generator, names: pd.Series, share: float) -> pd.Series:
    """Put an accent on one vowel of `share` of the names (José vs Jose must still match)."""
    pick = rng.random(len(names)) < share
    accented = names[pick]
    for plain, fancy in _ACCENTED.items():
        accented = accented.str.replace(plain, fancy, n=1, regex=False)
    return names.where(~pick, accented)


def _companies(rng: np.random.Generator, count: int) -> pd.DataFrame:
    words = _syllables(rng, count, 2)
    index = pd.Series(np.arange(count)).astype(str).to_numpy(dtype=object)
    domain = words + index + rng.choice(_TLDS, count)
    return pd.DataFrame(
        {
            "id": "co-" + pd.Series(index, dtype=object),
            "name": pd.Series(words, dtype=object).str.title() + " " + index,
            "domain": domain,
        }
    )


def _contacts(
    rng: np.random.Generator,
    count: int,
    company: pd.DataFrame,
    first: np.ndarray,
    last: np.ndarray,
) -> pd.DataFrame:
    full_name = _accent(rng, _names(rng, count, first, last), 0.1)
    # 1% share a name with another contact (a CRM has namesakes: a name match must not pick one).
    copies = rng.choice(count, max(1, count // 100), replace=False)
    full_name.iloc[copies] = full_name.iloc[rng.integers(0, count, len(copies))].to_numpy()
    at_company = rng.random(count) < 0.75
    company_index = rng.integers(0, len(company), count)
    company_id = pd.Series(company["id"].to_numpy()[company_index], dtype=object)
    domain = pd.Series(company["domain"].to_numpy()[company_index], dtype=object)
    local = full_name.str.lower().str.replace(" ", ".", regex=False)
    email = local + "." + pd.Series(np.arange(count)).astype(str) + "@"
    email = email + domain.where(at_company, pd.Series(rng.choice(_MAIL, count), dtype=object))
    frame = pd.DataFrame(
        {
            "id": "ct-" + pd.Series(np.arange(count)).astype(str),
            "company_id": company_id.where(at_company, None),
            "full_name": full_name,
            "email": email,
        }
    )
    frame["domain"] = domain.where(at_company, None)
    return frame


def _kinds(rng: np.random.Generator, count: int, shares: dict[str, float]) -> np.ndarray:
    kinds = np.full(count, "developer", dtype=object)
    start = 0
    for kind, share in shares.items():
        size = round(count * share)
        kinds[start : start + size] = kind
        start += size
    return rng.permutation(kinds)


def _company_url(rng: np.random.Generator, domains: pd.Series) -> pd.Series:
    size = len(domains)
    return (
        pd.Series(rng.choice(_COMPANY_HOSTS, size), index=domains.index, dtype=object)
        + domains
        + rng.choice(_COMPANY_PATHS, size)
    )


def _personal_url(rng: np.random.Generator, handles: pd.Series) -> pd.Series:
    """Free hosting pages (alice.github.io, medium.com/@alice) or an own domain (alice.me)."""
    size = len(handles)
    template = rng.integers(0, len(_FREE_SITES), size)
    prefix = np.array([t.split("{u}")[0] for t in _FREE_SITES], dtype=object)[template]
    suffix = np.array([t.split("{u}")[1] for t in _FREE_SITES], dtype=object)[template]
    free = prefix + handles + suffix
    own = "https://" + handles + rng.choice(np.array([".me", ".xyz", ".sh"]), size)
    return free.where(rng.random(size) < 0.75, own)


def _handles(names: pd.Series, ids: pd.Series) -> pd.Series:
    """'José Da Silva', '1000012345' -> 'josedasilva2345' (ids taken in `names`' order)."""
    slug = names.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    suffix = pd.Series(ids.to_numpy(), index=names.index, dtype=object).str[-4:]
    return slug.str.lower().str.replace(" ", "", regex=False) + suffix


def _pick_contacts(
    rng: np.random.Generator, contact: pd.DataFrame, taken: np.ndarray, size: int, mask=None
) -> pd.DataFrame:
    pool = ~taken if mask is None else (~taken & mask)
    chosen = rng.choice(np.flatnonzero(pool), size, replace=False)
    taken[chosen] = True
    return contact.iloc[chosen].reset_index(drop=True)


def _twitter(
    rng: np.random.Generator,
    count: int,
    contact: pd.DataFrame,
    company: pd.DataFrame,
    first: np.ndarray,
    last: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    kinds = _kinds(rng, count, X_KINDS)
    ids = pd.Series((1_000_000_000 + rng.permutation(count)).astype(str), dtype=object)
    frame = pd.DataFrame(
        {"platform": "twitter", "platform_user_id": ids, "kind": kinds, "contact_id": None}
    )
    frame["company_id"] = None
    frame["name"] = _names(rng, count, first, last)
    frame["urls"] = pd.Series([()] * count, dtype=object)
    frame["description"] = "Building things. Opinions my own."
    taken = np.zeros(len(contact), dtype=bool)
    has_company = contact["company_id"].notna().to_numpy()

    known = frame.index[kinds == "known"]
    people = _pick_contacts(rng, contact, taken, len(known))
    frame.loc[known, ["contact_id", "company_id"]] = people[["id", "company_id"]].to_numpy()
    style = rng.random(len(known))
    first_word = people["full_name"].str.split(" ").str[0]
    initial = people["full_name"].str.split(" ").str[1].str[0]
    shown = people["full_name"].where(style < 0.6, first_word + " " + initial + ".")
    frame.loc[known, "name"] = shown.where(style < 0.8, first_word + " 🚀").to_numpy()
    with_site = rng.random(len(known)) < 0.5
    urls = _company_url(rng, people["domain"].fillna("example.invalid"))
    frame.loc[known, "urls"] = _as_lists(
        urls.where(with_site & people["domain"].notna(), None).set_axis(known)
    )
    identities = pd.DataFrame(
        {
            "platform": "twitter",
            "platform_user_id": frame.loc[known, "platform_user_id"].to_numpy(),
            "contact_id": people["id"].to_numpy(),
            "username": _handles(
                people["full_name"], frame.loc[known, "platform_user_id"]
            ).to_numpy(),
        }
    )

    findable = frame.index[kinds == "domain_name"]
    people = _pick_contacts(rng, contact, taken, len(findable), has_company)
    frame.loc[findable, ["contact_id", "company_id"]] = people[["id", "company_id"]].to_numpy()
    shown = _case_variants(rng, people["full_name"])
    frame.loc[findable, "name"] = shown.to_numpy()
    frame.loc[findable, "urls"] = _as_lists(_company_url(rng, people["domain"]).set_axis(findable))

    employees = frame.index[kinds == "employee"]
    at = rng.integers(0, len(company), len(employees))
    frame.loc[employees, "company_id"] = company["id"].to_numpy()[at]
    domains = pd.Series(company["domain"].to_numpy()[at], dtype=object)
    mail = rng.random(len(employees)) < 0.2
    frame.loc[employees, "urls"] = _as_lists(
        _company_url(rng, domains).where(~mail, None).set_axis(employees)
    )
    frame.loc[employees, "description"] = (
        "Engineer. Reach me at dev@" + domains.where(mail, "gmail.com")
    ).to_numpy()

    two = frame.index[kinds == "two_companies"]
    a, b = (rng.integers(0, len(company), len(two)) for _ in range(2))
    frame.loc[two, "company_id"] = company["id"].to_numpy()[a]
    first_url = _company_url(rng, pd.Series(company["domain"].to_numpy()[a], dtype=object))
    second_url = _company_url(rng, pd.Series(company["domain"].to_numpy()[b], dtype=object))
    frame.loc[two, "urls"] = pd.Series(
        [[x, y] for x, y in zip(first_url, second_url, strict=True)], index=two
    )

    others = frame.index[np.isin(kinds, ["twin", "developer"])]
    handles = _handles(frame.loc[others, "name"], frame.loc[others, "platform_user_id"])
    draw = rng.random(len(others))
    personal = _personal_url(rng, handles).where(draw < 0.6, None)
    frame.loc[others, "urls"] = _as_lists(personal.set_axis(others))
    email = draw > 0.9
    frame.loc[others[email], "description"] = (
        "DMs open, or " + handles[email] + "@gmail.com"
    ).to_numpy()
    frame["username"] = _handles(frame["name"], frame["platform_user_id"])
    return frame, identities


def _stackoverflow(
    rng: np.random.Generator,
    count: int,
    contact: pd.DataFrame,
    company: pd.DataFrame,
    first: np.ndarray,
    last: np.ndarray,
    x: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    x_twins = x[x["kind"] == "twin"]
    kinds = _kinds(rng, count, {**SO_KINDS, "twin": len(x_twins) / max(count, 1)})
    ids = pd.Series(1_000 + rng.permutation(count) * 7, dtype="int64")
    frame = pd.DataFrame(
        {
            "platform": "stackoverflow",
            "platform_user_id": ids.astype(str),
            "user_id": ids,
            "kind": kinds,
            "contact_id": None,
        }
    )
    frame["company_id"] = None
    frame["twin_of"] = None
    frame["name"] = _names(rng, count, first, last)
    frame["website_url"] = None
    taken = np.zeros(len(contact), dtype=bool)
    has_company = contact["company_id"].notna().to_numpy()
    name_count = (
        contact["full_name"].str.lower().map(contact["full_name"].str.lower().value_counts())
    )
    unique_name = (name_count == 1).to_numpy()

    known = frame.index[kinds == "known"]
    people = _pick_contacts(rng, contact, taken, len(known))
    frame.loc[known, ["contact_id", "company_id"]] = people[["id", "company_id"]].to_numpy()
    frame.loc[known, "name"] = ("user" + frame.loc[known, "platform_user_id"]).to_numpy()
    identities = pd.DataFrame(
        {
            "platform": "stackoverflow",
            "platform_user_id": frame.loc[known, "platform_user_id"].to_numpy(),
            "contact_id": people["id"].to_numpy(),
            "username": people["full_name"].to_numpy(),
        }
    )

    findable = frame.index[kinds == "domain_name"]
    people = _pick_contacts(rng, contact, taken, len(findable), has_company)
    frame.loc[findable, ["contact_id", "company_id"]] = people[["id", "company_id"]].to_numpy()
    frame.loc[findable, "name"] = _case_variants(rng, people["full_name"]).to_numpy()
    frame.loc[findable, "website_url"] = _company_url(rng, people["domain"]).to_numpy()

    by_name = frame.index[kinds == "name"]
    people = _pick_contacts(rng, contact, taken, len(by_name), unique_name)
    frame.loc[by_name, ["contact_id", "company_id"]] = people[["id", "company_id"]].to_numpy()
    frame.loc[by_name, "name"] = _case_variants(rng, people["full_name"]).to_numpy()

    employees = frame.index[kinds == "employee"]
    at = rng.integers(0, len(company), len(employees))
    frame.loc[employees, "company_id"] = company["id"].to_numpy()[at]
    domains = pd.Series(company["domain"].to_numpy()[at], dtype=object)
    frame.loc[employees, "website_url"] = _company_url(rng, domains).to_numpy()

    namesakes = frame.index[kinds == "namesake"]
    shared = contact.loc[~unique_name, "full_name"].to_numpy()
    frame.loc[namesakes, "name"] = rng.choice(shared, len(namesakes))

    twins = frame.index[kinds == "twin"]
    source = x_twins.sample(n=len(twins), random_state=seed_from(rng)).reset_index(drop=True)
    frame.loc[twins, "twin_of"] = source["platform_user_id"].to_numpy()
    frame.loc[twins, "name"] = source["name"].to_numpy()
    same_site = pd.Series(
        [urls[0] if urls else None for urls in source["urls"]], dtype=object
    ).where(rng.random(len(twins)) < 0.8, None)
    frame.loc[twins, "website_url"] = same_site.to_numpy()

    developers = frame.index[kinds == "developer"]
    draw = rng.random(len(developers))
    names = frame.loc[developers, "name"]
    handles = _handles(names, frame.loc[developers, "platform_user_id"])
    frame.loc[developers, "name"] = names.where(draw < 0.5, handles).to_numpy()
    frame.loc[developers, "website_url"] = (
        _personal_url(rng, handles).where(rng.random(len(developers)) < 0.5, None).to_numpy()
    )
    return frame, identities


def seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31))


def _case_variants(rng: np.random.Generator, names: pd.Series) -> pd.Series:
    """What people show: their CRM name as is, in other case, or without its accents."""
    draw = rng.random(len(names))
    plain = names.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    shown = names.where(draw < 0.6, names.str.upper())
    return shown.where(draw < 0.8, plain)


def _as_lists(urls: pd.Series) -> pd.Series:
    """One-URL lists (or empty ones), aligned on `urls`' index for .loc assignment."""
    return pd.Series([[u] if isinstance(u, str) else [] for u in urls], index=urls.index)


def _raw_twitter(organization_id: str, x: pd.DataFrame) -> pd.DataFrame:
    now = pd.Timestamp("2026-11-20", tz="UTC")
    frame = pd.DataFrame(
        {
            "organization_id": organization_id,
            "user_id": x["platform_user_id"].to_numpy(),
            "username": x["username"].to_numpy(),
            "name": x["name"].to_numpy(),
            "description": x["description"].to_numpy(),
            "profile_url": [urls[0] if urls else None for urls in x["urls"]],
            "bio_urls": dumps_column(x["urls"].map(list)),
            "ingested_at": now,
            "updated_at": now,
        }
    )
    return _complete(frame, RAW_TWITTER_USERS.column_names)


def _raw_so(organization_id: str, so: pd.DataFrame) -> pd.DataFrame:
    now = pd.Timestamp("2026-11-20", tz="UTC")
    frame = pd.DataFrame(
        {
            "organization_id": organization_id,
            "user_id": so["user_id"].to_numpy(),
            "account_id": so["user_id"].to_numpy() + 5,
            "display_name": so["name"].to_numpy(),
            "website_url": so["website_url"].to_numpy(),
            "ingested_at": now,
            "updated_at": now,
        }
    )
    return _complete(frame, RAW_SO_USERS.column_names)


def _complete(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    for column in columns:
        if column not in frame:
            frame[column] = pd.Series([None] * len(frame), dtype=object)
    return frame[list(columns)]
