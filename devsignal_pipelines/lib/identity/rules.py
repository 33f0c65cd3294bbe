"""The identity rules: methods, confidences, domain lists and name / URL normalization.

Resolution itself is set-based SQL in the warehouse (`identity_resolve`, `identity_graph`); this
module holds what every part agrees on, plus Python mirrors of the SQL normalizations so tests,
the explain API and ad-hoc checks compute exactly what the warehouse computes.

Methods, strongest first (docs/identity.md has the reasoning and measured precision):
1. `platform_id`: the organization already holds an identity on the author's permanent id
   (X user id, Stack Exchange user_id; never the handle or display name, which change).
2. `claimed_handle`: the CRM or a Segment `identify` names this handle for exactly one contact
   (`twitter` / `github` field or trait), and the author has it now.
   `linked_account`: the profile names an X handle (GitHub's `twitter_username`) whose X account
   is already linked to exactly one contact.
   `bio_domain_name`: a profile URL (X bio / website, Stack Overflow website_url, an email in the
   X bio) is on exactly one company's domain, and exactly one contact of that company has the
   author's normalized full name.
3. `name`: no company evidence at all, and exactly one contact of the whole organization has the
   author's normalized full name (on platforms where a name alone is trusted, see
   NAME_ONLY_PLATFORMS). A contact that resolution itself created from another platform's
   profile carries only a display name, so it also needs a profile URL both accounts share.
4. `bio_domain`: the profile is on exactly one company's domain but no unique name matched: a new
   contact is created at that company.
5. `new_contact`: nothing matched; a new contact carrying the identity is created, so the next
   sync finds the author by id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pandas as pd

PLATFORMS = ("twitter", "stackoverflow", "github")

# Domains anyone can get a page or mailbox on: they say nothing about an employer.
FREE_HOSTING_DOMAINS = frozenset(
    {
        "github.io", "github.com", "gitlab.io", "gitlab.com", "bitbucket.org", "bitbucket.io",
        "vercel.app", "netlify.app", "netlify.com", "herokuapp.com", "pages.dev", "workers.dev",
        "fly.dev", "render.com", "onrender.com", "railway.app", "glitch.me", "repl.co", "replit.app",
        "web.app", "firebaseapp.com", "azurewebsites.net", "cloudfront.net", "surge.sh",
        "neocities.org", "codepen.io", "codesandbox.io", "stackblitz.com", "gitbook.io", "readthedocs.io",
        "medium.com", "substack.com", "dev.to", "hashnode.dev", "hashnode.com", "ghost.io",
        "wordpress.com", "blogspot.com", "blogger.com", "tumblr.com", "wixsite.com", "wix.com",
        "squarespace.com", "weebly.com", "webflow.io", "framer.website", "notion.site", "notion.so",
        "linktr.ee", "bio.link", "beacons.ai", "about.me", "carrd.co", "youtube.com", "youtu.be",
        "twitch.tv", "linkedin.com", "x.com", "twitter.com", "t.co", "instagram.com", "facebook.com",
        "threads.net", "mastodon.social", "bsky.app", "bsky.social", "polywork.com", "buymeacoffee.com",
        "ko-fi.com", "patreon.com", "google.com", "sites.google.com", "stackoverflow.com",
        "stackexchange.com", "kaggle.com", "huggingface.co", "npmjs.com", "pypi.org", "keybase.io",
        "gravatar.com", "discord.gg", "t.me", "calendly.com",
    }
)  # fmt: skip
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com",
        "ymail.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me",
        "aol.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "fastmail.com", "hey.com", "tutanota.com",
        "zoho.com", "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com", "126.com", "naver.com",
        "mail.com", "hushmail.com", "duck.com",
    }
)  # fmt: skip
FREE_DOMAINS = FREE_HOSTING_DOMAINS | FREE_MAIL_DOMAINS

CONFIDENCE = {
    "platform_id": 1.0,
    "claimed_handle": 0.95,
    "linked_account": 0.95,
    "bio_domain_name": 0.95,
    "name": 0.75,
    "bio_domain": 0.8,
    "new_contact": 1.0,  # it *is* that identity
}
LINK_METHODS = tuple(CONFIDENCE)
# Methods that claim "this author is that existing contact" (scored on the contact) and the one
# that only claims the employer (scored on the company).
CONTACT_CLAIMS = ("platform_id", "claimed_handle", "linked_account", "bio_domain_name", "name")
# Methods of the identities an organization states itself (Segment identify, CRM records).
STATED_METHODS = ("identify", "email", "crm")
COMPANY_CLAIMS = ("bio_domain",)

# Where a display name alone may link an author to a contact. On X the measured precision of a
# bare name match is far below the bar (random accounts share CRM names; see docs/identity.md),
# so X authors are linked by name only together with a company domain (`bio_domain_name`).
NAME_ONLY_PLATFORMS = frozenset({"stackoverflow"})

# Accent folding, defined once and mirrored by SQL (identity_sql.name_key_sql): letters that
# spell as two (ß -> ss) are replaced first, then marks are stripped from decomposed letters
# (é -> e; DuckDB's strip_accents), then letters that do not decompose are mapped (ø -> o).
MULTI_CHAR = {"ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ĳ": "ij", "Ĳ": "ij"}
UNDECOMPOSABLE = {
    "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "t",
    "Þ": "t", "ħ": "h", "Ħ": "h", "\u0131": "i", "ŀ": "l", "Ŀ": "l",
    "\t": " ", "\n": " ", "\r": " ", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}  # fmt: skip
_UNDECOMPOSABLE = str.maketrans(UNDECOMPOSABLE)
_MARKS = ("Mn", "Mc", "Me")
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9 ]")
_SPACES = re.compile(r" +")


def fold_accents(text: str) -> str:
    """'Ærø Núñez' -> 'Aero Nunez': the accent folding every engine applies before lower()."""
    for source, target in MULTI_CHAR.items():
        text = text.replace(source, target)
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _MARKS)
    return text.translate(_UNDECOMPOSABLE)


def _accent_table() -> dict[str, str]:
    """Single letters of the Latin blocks -> what fold_accents makes of them (for translate())."""
    table = dict(UNDECOMPOSABLE)
    for block in (range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        for code in block:
            char = chr(code)
            folded = fold_accents(char)
            if char not in MULTI_CHAR and folded != char and len(folded) == 1:
                table[char] = folded
    return table


# For engines without strip_accents (PostgreSQL, where unaccent may not be installed).
ACCENT_MAP = _accent_table()
# The same pattern the SQL uses (identity_sql.url_host_sql): scheme, user info, www., host.
URL_HOST_PATTERN = r"^([a-z][a-z0-9+.-]*://)?([^/?#@]*@)?(www[0-9]*\.)?([^/?#:]*).*$"
_URL_HOST = re.compile(URL_HOST_PATTERN, re.DOTALL)
# A URL without scheme, `www.`, query and fragment (identity_sql.url_key_sql): what two profiles
# of one person share when they link the same page (alice.dev/, github.com/alice).
URL_KEY_PATTERN = r"^([a-z][a-z0-9+.-]*://)?(www[0-9]*\.)?([^?#]*).*$"
_URL_KEY = re.compile(URL_KEY_PATTERN, re.DOTALL)


def normalize_name(name: str | None) -> str:
    """'  José  O'Neil ' -> 'jose oneil': accents, case, punctuation and spacing ignored.

    Mirrors identity_sql.name_key_sql; letters outside the Latin script are dropped (engines
    case-fold them differently), so such names never name-match.
    """
    if not name:
        return ""
    text = fold_accents(name).lower()
    return _SPACES.sub(" ", _NOT_KEY_CHAR.sub("", text)).strip()


def is_full_name(name_key: str) -> bool:
    """At least two words, the first and the last of two characters or more ('ada l' is not)."""
    return name_key.find(" ") > 1 and not re.search(r" .$", name_key)


def url_domain(url: str | None) -> str | None:
    """Lower-case host of a URL without `www.`, user info and port; None when it has no dot."""
    if not url or not isinstance(url, str):
        return None
    host = _URL_HOST.sub(r"\4", url.strip().lower()).rstrip(".")
    return host if "." in host else None


def url_key(url: str | None) -> str | None:
    """'https://www.Alice.dev/blog/?x=1' -> 'alice.dev/blog'; None when it has no dot."""
    if not url or not isinstance(url, str):
        return None
    key = _URL_KEY.sub(r"\3", url.strip().lower()).rstrip("/")
    return key if "." in key else None


def is_free_domain(domain: str) -> bool:
    """True for free hosting / free mail domains and their subdomains (alice.github.io)."""
    labels = domain.lower().split(".")
    return any(".".join(labels[i:]) in FREE_DOMAINS for i in range(len(labels)))


def new_contact_id(organization_id: str, platform: str, platform_user_id: str) -> str:
    """Deterministic, so a crashed-and-rerun resolution creates the same contact, not a twin.

    The md5 of 'devsignal-contact:<org>:<platform>:<id>' laid out as a UUID: both warehouse
    engines compute md5() natively, so SQL creates the very ids this function returns.
    """
    digest = hashlib.md5(
        f"devsignal-contact:{organization_id}:{platform}:{platform_user_id}".encode()
    ).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def score_links(links: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Precision and recall of resolved links against ground truth.

    links: platform_user_id, contact_id, company_id, method. truth: platform_user_id and the
    contact_id / company_id the author should be linked to (None where the organization cannot
    know the author; for someone the CRM does not hold but whose account on another platform was
    linked first, the contact that account got). A `new_contact` link claims nothing and is not
    scored; `bio_domain` claims a company; the other methods claim a contact.
    """
    claims = links[links["method"] != "new_contact"].merge(
        truth, on="platform_user_id", how="left", suffixes=("", "_true")
    )
    contact_claim = claims["method"].isin(CONTACT_CLAIMS)
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
