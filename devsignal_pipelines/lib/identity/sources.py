"""Where each platform's authors and their profile URLs live in the warehouse, as SQL.

Identity resolution is the same for every platform; only these queries differ. Each source
gives (platform_user_id TEXT, username, display_name) for the authors of organization `:o`, and
(platform_user_id, via, url) for every URL or email on their profiles. Platform user ids are
text everywhere in the identity tables (Stack Overflow's numeric user_id as its decimal text).
"""

from __future__ import annotations

from dataclasses import dataclass

from devsignal_pipelines.lib.identity.sql import email_sql

# X profiles rarely list more than a website and a few bio links; later entries are ignored.
MAX_BIO_URLS = 8


@dataclass(frozen=True)
class AuthorSource:
    platform: str
    table: str
    user_id: str  # the text id, over the table aliased `u`
    username: str
    display_name: str
    # SELECT (platform_user_id, via, url) over `table u`, each with a `{only}` slot in its WHERE.
    url_branches: tuple[str, ...]
    # SELECT (platform_user_id, handle): the X handle a profile names as its owner's (lower case,
    # no @); an author naming the handle of an X account linked to a contact is that contact.
    x_handle_sql: str | None = None

    def authors_sql(self) -> str:
        return (
            f"SELECT {self.user_id} AS platform_user_id, {self.username} AS username, "
            f"{self.display_name} AS display_name FROM {self.table} u WHERE u.organization_id = :o"
        )

    def present_sql(self) -> str:
        return f"SELECT {self.user_id} AS platform_user_id FROM {self.table} u WHERE u.organization_id = :o"

    def urls_sql(self, only: str | None = None) -> str:
        """Every profile URL; with `only` (a relation with a platform_user_id column), just those
        authors' URLs, filtered before any URL is parsed."""
        condition = f"AND {self.user_id} IN (SELECT platform_user_id FROM {only})" if only else ""
        return " UNION ALL ".join(b.format(only=condition) for b in self.url_branches)


_MORE_BIO_URLS = ", ".join(f"({n})" for n in range(1, MAX_BIO_URLS))

TWITTER = AuthorSource(
    platform="twitter",
    table="raw.twitter_users",
    user_id="u.user_id",
    username="u.username",
    display_name="u.name",
    url_branches=(
        # `->> n` reads the n-th element of a JSON array on both engines (json and jsonb); the
        # 2nd..8th are only looked for in arrays that have a second element.
        "SELECT u.user_id AS platform_user_id, 'bio_url' AS via, u.bio_urls ->> 0 AS url "
        "FROM raw.twitter_users u WHERE u.organization_id = :o "
        "AND CAST(u.bio_urls AS TEXT) <> '[]' {only}",
        "SELECT u.user_id, 'bio_url', u.bio_urls ->> i.n FROM raw.twitter_users u "
        f"CROSS JOIN (VALUES {_MORE_BIO_URLS}) AS i(n) WHERE u.organization_id = :o "
        """AND CAST(u.bio_urls AS TEXT) LIKE '%",%' {only}""",
        "SELECT e.user_id, 'bio_email', 'mailto' || chr(58) || e.local_part || '@' || e.domain "
        f"FROM (SELECT u.user_id, {email_sql('u.description')} FROM raw.twitter_users u "
        "WHERE u.organization_id = :o AND u.description LIKE '%@%' {only}) e "
        "WHERE e.local_part <> '' AND e.domain LIKE '%_._%'",
    ),
)

STACKOVERFLOW = AuthorSource(
    platform="stackoverflow",
    table="raw.so_users",
    user_id="CAST(u.user_id AS TEXT)",
    username="u.display_name",
    display_name="u.display_name",
    url_branches=(
        "SELECT CAST(u.user_id AS TEXT) AS platform_user_id, 'website_url' AS via, "
        "u.website_url AS url FROM raw.so_users u WHERE u.organization_id = :o "
        "AND u.website_url IS NOT NULL AND u.website_url <> '' {only}",
    ),
)

# GitHub profiles: `blog` (a website), a public `email`, `company` "@org" (a GitHub organization
# whose login is the first label of exactly one company's domain: "@brightloop" ->
# brightloop.io; a company typed as a name says nothing we can trust), and `twitter_username`.
GITHUB = AuthorSource(
    platform="github",
    table="raw.github_users",
    user_id="CAST(u.user_id AS TEXT)",
    username="u.login",
    display_name="COALESCE(u.name, u.login)",
    url_branches=(
        "SELECT CAST(u.user_id AS TEXT) AS platform_user_id, 'blog' AS via, u.blog AS url "
        "FROM raw.github_users u WHERE u.organization_id = :o AND u.blog IS NOT NULL "
        "AND u.blog <> '' {only}",
        "SELECT CAST(u.user_id AS TEXT), 'profile_email', 'mailto' || chr(58) || lower(u.email) "
        "FROM raw.github_users u WHERE u.organization_id = :o AND u.email LIKE '%_@_%' {only}",
        "SELECT CAST(u.user_id AS TEXT), 'company_org', 'https' || chr(58) || '//' || c.domain "
        "FROM raw.github_users u JOIN idr_companies c "
        "ON lower(substr(trim(u.company), 2)) = split_part(c.domain, '.', 1) "
        "WHERE u.organization_id = :o AND trim(u.company) LIKE '@_%' {only}",
    ),
    x_handle_sql="SELECT CAST(u.user_id AS TEXT) AS platform_user_id, "
    "lower(ltrim(trim(u.twitter_username), '@')) AS handle FROM raw.github_users u "
    "WHERE u.organization_id = :o AND u.twitter_username IS NOT NULL AND u.twitter_username <> ''",
)

SOURCES = {source.platform: source for source in (TWITTER, STACKOVERFLOW, GITHUB)}

# Platforms whose identities the organization states itself (a Segment `identify` names its own
# userId; lib/sources/events/identities records it): linked to their contacts, never resolved.
STATED_PRESENT_SQL = {
    "product": "SELECT DISTINCT u.user_id AS platform_user_id FROM raw.product_events u "
    "WHERE u.organization_id = :o AND u.user_id IS NOT NULL",
}
