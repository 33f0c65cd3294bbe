"""The identity rules as set-based SQL over staged relations, one platform at a time.

Relations (temporary tables of one warehouse transaction, see identity_resolve):
  idr_companies(company_id, domain)                      the organization's companies
  idr_contacts(contact_id, company_id, full_name, source, name_key, is_new)
  idr_identities(platform, platform_user_id, contact_id, username, method, confidence,
                 evidence, created_at, is_new)           every identity the organization holds
  idr_free(domain)                                        free hosting and free mail domains
  idr_handles(platform, handle, contact_id, claimants)   handles the CRM / identify name

`resolve_platform` links every author of one platform that has no identity yet and appends the
outcome to idr_identities (and the contacts it creates to idr_contacts), so the next platform
sees them: a Stack Overflow user can land on the contact an X author created a moment ago.
Every statement is portable SQL (DuckDB and PostgreSQL); no row ever goes through Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from devsignal_pipelines.lib.identity.rules import CONFIDENCE
from devsignal_pipelines.lib.identity.sources import AuthorSource
from devsignal_pipelines.lib.identity.sql import (
    contact_hash_sql,
    is_full_name_sql,
    json_constant,
    json_object_sql,
    name_key_sql,
    quote,
    suffix_sql,
    url_host_sql,
    url_key_sql,
    uuid_layout_sql,
)
from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction

# A URL host is compared with company domains by itself and without its first 1..3 labels.
MAX_STRIPPED_LABELS = 3
_WORK_TABLES = (
    "idr_authors",
    "idr_hosts",
    "idr_domain_hits",
    "idr_name_matches",
    "idr_twin_accounts",
    "idr_twin_authors",
    "idr_twin_urls",
    "idr_twin_sites",
    "idr_claims",
    "idr_resolved",
)


def derive_contact_keys(tx: WarehouseTransaction) -> None:
    """idr_contacts from the staged idr_contacts_in: the normalized name computed once, in SQL."""
    tx.execute("DROP TABLE IF EXISTS idr_contacts")
    tx.execute(
        "CREATE TEMP TABLE idr_contacts AS SELECT contact_id, company_id, full_name, source, "
        f"{name_key_sql('full_name', tx.dialect)} AS name_key, FALSE AS is_new FROM idr_contacts_in"
    )
    tx.execute("DROP TABLE idr_contacts_in")


def resolve_platform(
    tx: WarehouseTransaction,
    source: AuthorSource,
    organization_id: str,
    now: object,
    name_only: bool,
    others: Sequence[AuthorSource] = (),
) -> None:
    """Resolve `source`'s unknown authors and append their identities and new contacts.

    `others` are the organization's other platforms, whose profiles can corroborate a name match.
    """
    params = {"o": organization_id}
    platform = quote(source.platform)
    _unknown_authors(tx, source, platform, params)
    _hosts(tx, source, params)
    _domain_hits(tx)
    _claims(tx, source, others, params, name_only)
    _resolved(tx, source.platform, params)
    tx.execute(
        "INSERT INTO idr_contacts (contact_id, company_id, full_name, source, name_key, is_new) "
        f"SELECT contact_id, company_id, display_name, {platform}, name_key, TRUE "
        "FROM idr_resolved WHERE method IN ('bio_domain', 'new_contact')"
    )
    tx.execute(
        "INSERT INTO idr_identities (platform, platform_user_id, contact_id, username, method, "
        "confidence, evidence, created_at, is_new) "
        f"SELECT {platform}, platform_user_id, contact_id, username, method, confidence, "
        "evidence, CAST(:now AS TIMESTAMPTZ), TRUE FROM idr_resolved",
        {"now": now},
    )
    drop(tx, _WORK_TABLES)


def drop(tx: WarehouseTransaction, tables: Iterable[str]) -> None:
    for table in tables:
        tx.execute(f"DROP TABLE IF EXISTS {table}")


def _unknown_authors(
    tx: WarehouseTransaction, source: AuthorSource, platform: str, params: dict
) -> None:
    """Authors with no identity on this platform's permanent id (method 1 settles the rest)."""
    tx.execute(
        "CREATE TEMP TABLE idr_authors AS "
        f"SELECT a.platform_user_id, a.username, a.display_name, "
        f"{name_key_sql('a.display_name', tx.dialect)} AS name_key "
        f"FROM ({source.authors_sql()}) a WHERE NOT EXISTS (SELECT 1 FROM idr_identities i "
        f"WHERE i.platform = {platform} AND i.platform_user_id = a.platform_user_id)",
        params,
    )


def _hosts(tx: WarehouseTransaction, source: AuthorSource, params: dict) -> None:
    """One row per profile URL / email of the unknown authors, with its parsed host.

    Three plain steps: DuckDB would otherwise push a filter on the parsed host into the raw
    table scan (parsing every author's URLs, known or not) and re-run the regexp once per
    filter; a MATERIALIZED CTE is slower still.
    """
    tx.execute(
        "CREATE TEMP TABLE idr_urls AS SELECT platform_user_id, via, url "
        f"FROM ({source.urls_sql(only='idr_authors')}) u WHERE url IS NOT NULL",
        params,
    )
    tx.execute(
        "CREATE TEMP TABLE idr_parsed AS SELECT platform_user_id, via, url, "
        f"{url_host_sql('url')} AS host FROM idr_urls"
    )
    tx.execute(
        "CREATE TEMP TABLE idr_hosts AS SELECT * FROM idr_parsed "
        "WHERE host LIKE '%_._%' AND host NOT LIKE '% %' AND host NOT LIKE '%@%'"
    )
    drop(tx, ("idr_urls", "idr_parsed"))


def _domain_hits(tx: WarehouseTransaction) -> None:
    """Per author: the company its profile points at, and how many distinct companies it names.

    A host counts for the company whose domain is its longest matching suffix
    (blog.eu.acme.io -> eu.acme.io before acme.io). Hosts on free hosting / free mail domains
    (alice.github.io, gmail.com) never count.
    """
    suffixes = " UNION ALL ".join(
        f"SELECT platform_user_id, via, url, host, {suffix_sql('host', k)} AS suffix, {k} AS depth "
        f"FROM idr_hosts WHERE host LIKE '{'%.' * (k + 1)}%'"
        for k in range(MAX_STRIPPED_LABELS + 1)
    )
    tx.execute(
        f"""
        CREATE TEMP TABLE idr_domain_hits AS
        WITH suffixes AS ({suffixes}),
        free_hosts AS (
            SELECT DISTINCT s.platform_user_id, s.host FROM suffixes s
            JOIN idr_free f ON f.domain = s.suffix
        ),
        matches AS (
            SELECT s.platform_user_id, s.via, s.url, s.host, c.company_id, c.domain,
                   rank() OVER (PARTITION BY s.platform_user_id, s.host ORDER BY s.depth) AS specific
            FROM suffixes s JOIN idr_companies c ON c.domain = s.suffix
            WHERE NOT EXISTS (SELECT 1 FROM free_hosts f
                              WHERE f.platform_user_id = s.platform_user_id AND f.host = s.host)
        ),
        best AS (SELECT * FROM matches WHERE specific = 1),
        per_author AS (
            SELECT platform_user_id, count(DISTINCT company_id) AS companies
            FROM best GROUP BY platform_user_id
        ),
        picked AS (
            SELECT b.*, row_number() OVER (
                PARTITION BY b.platform_user_id ORDER BY b.via, b.url, b.host, b.company_id) AS pick
            FROM best b
        )
        SELECT p.platform_user_id, p.company_id, p.domain, p.host, p.url, p.via, a.companies
        FROM picked p JOIN per_author a ON a.platform_user_id = p.platform_user_id
        WHERE p.pick = 1
        """
    )


def _claims(
    tx: WarehouseTransaction,
    source: AuthorSource,
    others: Sequence[AuthorSource],
    params: dict,
    name_only: bool,
) -> None:
    """Unknown authors that name an existing contact: by company domain + name, or by name alone.

    A contact can be claimed only by one author (two claimants make both ambiguous) and only if
    it holds no identity on this platform yet: one account per person per platform, so a second
    account with the same name is someone else, or nobody we can tell apart.
    """
    platform = quote(source.platform)
    by_name = ""
    linked = ""
    if source.x_handle_sql:
        # shared_url carries the X handle here: what the evidence names.
        linked = f"""
            UNION ALL
            SELECT a.platform_user_id, i.contact_id, 'linked_account', '@' || g.handle, 1
            FROM idr_authors a
            JOIN ({source.x_handle_sql}) g ON g.platform_user_id = a.platform_user_id
            JOIN raw.twitter_users t ON t.organization_id = :o AND lower(t.username) = g.handle
            JOIN idr_identities i ON i.platform = 'twitter' AND i.platform_user_id = t.user_id
        """
    if name_only:
        _name_matches(tx, source, others, params)
        by_name = """
            UNION ALL
            SELECT platform_user_id, contact_id, 'name', shared_url, 3 FROM idr_name_matches
            WHERE curated OR shared_url IS NOT NULL
        """
    sql = f"""
        CREATE TEMP TABLE idr_claims AS
        WITH company_names AS (
            SELECT company_id, name_key, count(*) AS n FROM idr_contacts
            WHERE company_id IS NOT NULL AND name_key <> '' GROUP BY company_id, name_key
        ),
        claims AS (
            SELECT a.platform_user_id, h.contact_id, 'claimed_handle' AS method,
                   CAST(NULL AS TEXT) AS shared_url, 1 AS precedence
            FROM idr_authors a
            JOIN idr_handles h ON h.platform = {platform} AND h.handle = lower(a.username)
                               AND h.claimants = 1
            UNION ALL
            SELECT a.platform_user_id, e.contact_id, 'bio_domain_name',
                   CAST(NULL AS TEXT), 2
            FROM idr_authors a
            JOIN idr_domain_hits d ON d.platform_user_id = a.platform_user_id AND d.companies = 1
            JOIN company_names n ON n.company_id = d.company_id AND n.name_key = a.name_key
                                AND n.n = 1
            JOIN idr_contacts e ON e.company_id = d.company_id AND e.name_key = a.name_key
            WHERE {is_full_name_sql("a.name_key")}
            {by_name}
            {linked}
        ),
        -- One claim per author: its strongest method, and only if no other claim of that
        -- strength names another contact.
        strongest AS (
            SELECT platform_user_id, min(precedence) AS precedence FROM claims
            GROUP BY platform_user_id
        ),
        at_strongest AS (
            SELECT DISTINCT c.platform_user_id, c.contact_id, c.method, c.shared_url
            FROM claims c JOIN strongest s
              ON s.platform_user_id = c.platform_user_id AND s.precedence = c.precedence
        ),
        best AS (
            SELECT * FROM at_strongest WHERE platform_user_id IN (
                SELECT platform_user_id FROM at_strongest GROUP BY platform_user_id
                HAVING count(*) = 1)
        ),
        single AS (
            SELECT * FROM (
                SELECT b.*, count(*) OVER (PARTITION BY b.contact_id) AS claimants FROM best b
            ) x WHERE claimants = 1
        )
        SELECT s.platform_user_id, s.contact_id, s.method, s.shared_url,
               k.company_id AS contact_company_id, k.full_name AS contact_name,
               k.source AS contact_source
        FROM single s JOIN idr_contacts k ON k.contact_id = s.contact_id
        WHERE NOT EXISTS (SELECT 1 FROM idr_identities i
                          WHERE i.platform = {platform} AND i.contact_id = s.contact_id)
        """
    tx.execute(sql, params if linked else None)


def _name_matches(
    tx: WarehouseTransaction,
    source: AuthorSource,
    others: Sequence[AuthorSource],
    params: dict,
) -> None:
    """idr_name_matches: authors with no company evidence whose full name is unique among the
    organization's contacts and among this platform's unknown authors.

    `curated` marks contacts that resolution did not create (the CRM's, with real names). For
    the others, created from a profile's display name, `shared_url` is a page both profiles link
    (same personal site, same github.com/alice): without one a name alone does not merge them.
    """
    created = ", ".join(quote(o.platform) for o in (source, *others))
    tx.execute(
        f"""
        CREATE TEMP TABLE idr_name_matches AS
        WITH org_names AS (
            SELECT name_key, count(*) AS n FROM idr_contacts WHERE name_key <> ''
            GROUP BY name_key
        ),
        author_names AS (SELECT name_key, count(*) AS n FROM idr_authors GROUP BY name_key)
        SELECT a.platform_user_id, e.contact_id, e.source NOT IN ({created}) AS curated,
               CAST(NULL AS TEXT) AS shared_url
        FROM idr_authors a
        JOIN author_names an ON an.name_key = a.name_key AND an.n = 1
        JOIN org_names n ON n.name_key = a.name_key AND n.n = 1
        JOIN idr_contacts e ON e.name_key = a.name_key
        WHERE {is_full_name_sql("a.name_key")}
          AND NOT EXISTS (SELECT 1 FROM idr_domain_hits d
                          WHERE d.platform_user_id = a.platform_user_id)
          AND NOT EXISTS (SELECT 1 FROM idr_identities i
                          WHERE i.platform = {quote(source.platform)} AND i.contact_id = e.contact_id)
        """
    )
    if not others:
        return
    # The accounts on other platforms of the contacts a name matched, and the sites both link.
    tx.execute(
        "CREATE TEMP TABLE idr_twin_accounts AS SELECT DISTINCT m.platform_user_id AS author_id, "
        "i.platform, i.platform_user_id FROM idr_name_matches m "
        "JOIN idr_identities i ON i.contact_id = m.contact_id WHERE NOT m.curated"
    )
    tx.execute(
        "CREATE TEMP TABLE idr_twin_authors AS "
        "SELECT DISTINCT author_id AS platform_user_id FROM idr_twin_accounts"
    )
    theirs = " UNION ALL ".join(
        f"SELECT {quote(o.platform)} AS platform, platform_user_id, url "
        f"FROM ({o.urls_sql(only='idr_twin_accounts')}) o"
        for o in others
    )
    tx.execute(
        "CREATE TEMP TABLE idr_twin_urls AS "
        f"SELECT 'mine' AS side, platform_user_id, url FROM ({source.urls_sql(only='idr_twin_authors')}) u "
        f"UNION ALL SELECT platform, platform_user_id, url FROM ({theirs}) t",
        params,
    )
    tx.execute(f"CREATE TEMP TABLE idr_twin_sites AS {_site_keys_sql()}")
    tx.execute(
        """
        UPDATE idr_name_matches SET shared_url = s.site
        FROM (
            SELECT t.author_id, min(mine.site) AS site
            FROM idr_twin_accounts t
            JOIN idr_twin_sites mine ON mine.side = 'mine' AND mine.platform_user_id = t.author_id
            JOIN idr_twin_sites theirs
              ON theirs.side = t.platform AND theirs.platform_user_id = t.platform_user_id
             AND theirs.site = mine.site
            GROUP BY t.author_id
        ) s
        WHERE idr_name_matches.platform_user_id = s.author_id
        """
    )


def _site_keys_sql() -> str:
    """(side, platform_user_id, site) for every URL in idr_twin_urls: what two profiles of one
    person share when they link the same site.

    A site is the page without scheme and query (github.com/alice, medium.com/@alice), the host
    (alice.github.io, blog.brightops.io) and the host's parent domain (brightops.io). Keys that
    are a free domain themselves (github.com, github.io) or have no dot say nothing.
    """
    host = url_host_sql("url")
    keys = " UNION ALL ".join(
        f"SELECT side, platform_user_id, {key} AS site FROM idr_twin_urls WHERE url IS NOT NULL"
        for key in (url_key_sql("url"), host, suffix_sql(host, 1))
    )
    return (
        f"WITH k AS MATERIALIZED ({keys}) SELECT DISTINCT side, platform_user_id, site FROM k "
        "WHERE site LIKE '%_._%' AND site NOT LIKE '% %' "
        "AND NOT EXISTS (SELECT 1 FROM idr_free f WHERE f.domain = k.site)"
    )


def _resolved(tx: WarehouseTransaction, platform: str, params: dict) -> None:
    """The outcome for every unknown author: method, contact (existing or new), evidence."""
    domain_fields = {
        "company_domain": "r.domain",
        "profile_host": "r.host",
        "profile_url": "r.url",
        "via": "r.via",
    }
    evidence = {
        "linked_account": {
            "twitter_username": "r.shared_url",
            "author_name": "r.display_name",
            "contact_name": "r.contact_name",
            "contact_source": "r.contact_source",
        },
        "claimed_handle": {
            "handle": "r.username",
            "author_name": "r.display_name",
            "contact_name": "r.contact_name",
            "contact_source": "r.contact_source",
        },
        "bio_domain_name": {
            **domain_fields,
            "author_name": "r.display_name",
            "contact_name": "r.contact_name",
        },
        "name": {
            "author_name": "r.display_name",
            "contact_name": "r.contact_name",
            "contact_source": "r.contact_source",
            "name_key": "r.name_key",
            "shared_url": "r.shared_url",
        },
        "bio_domain": {
            **domain_fields,
            "reason": _text("no contact of that company has this unique full name"),
        },
    }
    no_match = {
        "reason": f"CASE WHEN r.companies > 1 THEN {_text('ambiguous: the profile points at several companies')} "
        f"ELSE {_text('no known id, no company domain, no unique name match')} END",
        "companies": "coalesce(r.companies, 0)",
    }
    # Most authors match nothing and have no company evidence: their evidence is one constant.
    nothing = json_constant(
        {"companies": 0, "reason": "no known id, no company domain, no unique name match"}
    )
    evidence_sql = (
        f"CASE WHEN r.method = 'new_contact' AND r.companies IS NULL THEN {quote(nothing)} "
        + " ".join(f"WHEN r.method = '{m}' THEN {json_object_sql(f)}" for m, f in evidence.items())
        + f" ELSE {json_object_sql(no_match)} END"
    )
    confidence_sql = (
        "CASE r.method "
        + " ".join(f"WHEN '{m}' THEN {value}" for m, value in CONFIDENCE.items())
        + " END"
    )
    tx.execute(
        f"""
        CREATE TEMP TABLE idr_resolved AS
        SELECT r.platform_user_id, r.username, r.display_name, r.name_key, r.method,
               coalesce(r.claimed, {uuid_layout_sql("r.h")}) AS contact_id,
               r.company_id, {confidence_sql} AS confidence, {evidence_sql} AS evidence
        FROM (
            SELECT a.platform_user_id, a.username, a.display_name, a.name_key,
                   CASE WHEN m.method IS NOT NULL THEN m.method
                        WHEN d.companies = 1 THEN 'bio_domain' ELSE 'new_contact' END AS method,
                   m.contact_id AS claimed,
                   CASE WHEN m.contact_id IS NULL THEN {contact_hash_sql(":o", platform, "a.platform_user_id")} END AS h,
                   CASE WHEN m.contact_id IS NOT NULL THEN m.contact_company_id
                        WHEN d.companies = 1 THEN d.company_id END AS company_id,
                   d.companies, d.domain, d.host, d.url, d.via,
                   m.contact_name, m.contact_source, m.shared_url
            FROM idr_authors a
            LEFT JOIN idr_claims m ON m.platform_user_id = a.platform_user_id
            LEFT JOIN idr_domain_hits d ON d.platform_user_id = a.platform_user_id
        ) r
        """,
        params,
    )


def _text(value: str) -> str:
    """A typed string literal (PostgreSQL will not pass an untyped literal to to_json)."""
    return f"CAST({quote(value)} AS TEXT)"
