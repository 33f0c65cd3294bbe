"""Benchmark: the analysts' read path (lib/stores/published.py) over 10,000,000 signals.

    python -m benchmarks.bench_publish                        # 10M signals, ~50 organizations
    python -m benchmarks.bench_publish --signals 1000000      # a quick run
    python -m benchmarks.bench_publish --no-models            # publish core.* only

In a temporary DEVSIGNAL_HOME: the warehouse with the real schema (Warehouse.ensure_tables), filled
set-based inside DuckDB (INSERT ... SELECT FROM range(n), one statement per organization and
table: ~50 organizations of Zipf-like sizes, 2 years of signals weighted towards the recent past,
contacts / companies / deals in proportion, JSON metadata shaped like lib/signals.py's), then the
dbt_like_sql models once (lib.sql_models.runner.run_models, full refresh) so analytics.* exist.

Every publish runs in a process of its own (as the success hook runs it in the run's process), so
its peak RSS (VmHWM; see _peak_rss_mb) is the publish's, not the generator's:

  (a) first publish: every core.* / analytics.* table exported
  (b) again, nothing changed: fingerprints only (all tables, then tables=['core.signals'])
  (c) the largest organization's sync adds --sync-rows signals (default 0.1%):
      publish(tables=['core.signals'], organizations=[it]), as that run's success hook does
  (d) its sync adds 0.1% contacts: publish(tables=['core.contacts'], organizations=[it])
  (e) three analyst queries on the read path vs directly on warehouse.duckdb
  (f) a reader holding the read path open (another process) while a write transaction on the
      warehouse and a publish run: both go through; the held session keeps its snapshot
  (g) for contrast, a pipeline write issued while a publish (c) is running, from another process:
      how long the publish's read-only connection on warehouse.duckdb makes it wait

Named checks print ok / FAIL; exits 1 if any fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
ANCHOR_S = int(ANCHOR.timestamp())
DAY_S = 86_400
HISTORY_DAYS = 730
REPO = Path(__file__).resolve().parents[1]

# The analysts' queries: (name, SQL). {org} is the largest organization, {anchor} the as-of time.
QUERIES = (
    (
        "types, 1 org, 30 days",
        "SELECT signal_type, count(*) AS n FROM core.signals "
        "WHERE organization_id = '{org}' AND occurred_at >= TIMESTAMPTZ '{anchor}' - INTERVAL 30 DAY "
        "GROUP BY signal_type ORDER BY n DESC, signal_type",
    ),
    (
        "top 10 companies, 90 days",
        "SELECT s.organization_id, c.name, count(*) AS n FROM core.signals s "
        "JOIN core.companies c ON c.organization_id = s.organization_id AND c.company_id = s.company_id "
        "WHERE s.occurred_at >= TIMESTAMPTZ '{anchor}' - INTERVAL 90 DAY "
        "GROUP BY ALL ORDER BY n DESC, c.name LIMIT 10",
    ),
    (
        "signals x contacts",
        "SELECT ct.seniority, s.source, count(*) AS n, count(DISTINCT s.contact_id) AS contacts "
        "FROM core.signals s JOIN core.contacts ct "
        "ON ct.organization_id = s.organization_id AND ct.contact_id = s.contact_id "
        "GROUP BY ALL ORDER BY ALL",
    ),
)

# --- the data, set-based ------------------------------------------------------------------------


def organizations(count: int, signals: int) -> list[dict]:
    """Zipf-like shares (the largest ~15%, the smallest <1%) of signals, contacts and companies;
    each organization owns contiguous id ranges, so every row can be generated arithmetically."""
    weights = [1 / (k + 1) ** 0.8 for k in range(count)]
    total = sum(weights)
    sizes = {
        "sig": signals,
        "ct": max(signals // 25, 40 * count),
        "co": max(signals // 100, 10 * count),
    }
    orgs = [{"name": f"org-{k + 1:02d}"} for k in range(count)]
    for key, size in sizes.items():
        start, cumulative = 0, 0.0
        for k, org in enumerate(orgs):
            cumulative += weights[k]
            end = size if k == count - 1 else max(round(size * cumulative / total), start + 1)
            org[f"{key}_lo"], org[f"{key}_n"] = start, end - start
            start = end
    return orgs


def _pick(values: tuple[str, ...], h: str) -> str:
    """A SQL expression choosing one of `values` by the UBIGINT expression `h`."""
    items = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"[{items}][1 + CAST(({h}) % {len(values)} AS BIGINT)]"


def _hex(h: str) -> str:
    """16 lower-case hex digits of a UBIGINT (format('{:016x}') costs 5x more)."""
    return f"lower(lpad(hex({h}), 16, '0'))"


def _id(prefix: str, number: str) -> str:
    return f"'{prefix}' || lpad(CAST({number} AS VARCHAR), 7, '0')"


PHRASES = (
    "Just shipped our first pipeline on",
    "Has anyone benchmarked",
    "Really impressed by the latest release of",
    "Why does the query planner in",
    "Migrating from Postgres to",
    "Three days fighting the auth flow of",
    "Great docs page on incremental models in",
    "Is there a way to stream results from",
)
TOPICS = (
    "with the python sdk",
    "against a 2TB dataset",
    "for our on-call dashboards",
    "behind a corporate proxy",
    "inside a lambda, cold starts included",
    "on arm64 runners",
)
TAGS = ("dataeng", "python", "sql", "devtools", "opensource", "analytics", "rust", "duckdb")
PAGES = ("quickstart", "sdk/python", "sql/joins", "self-hosting", "api/auth", "models/incremental")
ENDPOINTS = ("/v1/query", "/v1/ingest", "/v1/tables", "/v1/auth/token", "/v1/exports")
FEATURES = ("dashboards", "alerts", "sql_editor", "exports", "sso", "scheduled_queries")
PLANS = ("free", "team", "pro", "enterprise")
REGIONS = ("us-east-1", "eu-west-1", "ap-south-1", "us-west-2")
REPOS = ("core", "python-sdk", "js-sdk", "cli", "docs", "helm-charts")
TITLES_SO = (
    "How to paginate a query result",
    "Connection refused when using the docker image",
    "Incremental model re-processes every row",
    "Type error when reading parquet with nested lists",
    "Authentication token expires too early",
)
TITLES_GH = (
    "Crash when the config file is empty",
    "Add retry with backoff to the HTTP client",
    "Docs: fix the quickstart example",
    "Support timestamps with time zones in exports",
    "Memory grows without bound on long streams",
)
FIRST = ("Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi")
LAST = ("Silva", "Novak", "Kim", "Okafor", "Larsen", "Haddad", "Moreau", "Tanaka", "Petrov")
JOB_TITLES = (
    "Software Engineer",
    "Senior Software Engineer",
    "Staff Engineer",
    "Engineering Manager",
    "Data Engineer",
    "CTO",
    "VP Engineering",
    "Developer Advocate",
)
SENIORITY = ("junior", "senior", "senior", "manager", "director", "executive")
ROLES = ("engineering", "engineering", "data", "product", "leadership")
COUNTRIES = ("US", "DE", "GB", "IN", "BR", "FR", "CA", "NL", "JP", "PL")
CITIES = ("San Francisco", "Berlin", "London", "Bangalore", "Sao Paulo", "Paris", "Toronto")
INDUSTRIES = ("Software", "Financial Services", "Media", "Retail", "Healthcare", "Logistics")
TECH = ("python", "postgres", "kubernetes", "aws", "gcp", "snowflake", "react", "kafka", "go")
EMPLOYEE_RANGES = ("1-10", "11-50", "51-250", "251-1K", "1K-5K", "5K-10K")
REVENUE = ("$0-$1M", "$1M-$10M", "$10M-$50M", "$50M-$100M", "$100M-$250M")


def signals_sql(org: dict, lo: int, hi: int, end_s: int, span_days: float) -> str:
    """INSERT of signals lo..hi-1 for one organization, occurred in the span_days before end_s."""
    name = org["name"]
    slug = name.replace("-", "")
    ct_lo, ct_n, co_lo, co_n = org["ct_lo"], org["ct_n"], org["co_lo"], org["co_n"]
    span_s = int(span_days * DAY_S)
    method = "CASE WHEN ct IS NULL THEN NULL ELSE 'platform_id' END"
    return f"""
INSERT INTO core.signals (signal_id, organization_id, source, signal_type, occurred_at, contact_id,
    company_id, sentiment, sentiment_score, url, metadata, ingested_at)
WITH g AS (
    SELECT i, hash(i, 1) % 100 AS k, hash(i, 4) AS h,
        (hash(i, 2) % 1000003) / 1000003.0 AS ut,
        (hash(i, 3) % 1000003) / 1000003.0 AS uc
    FROM range({lo}, {hi}) r(i)
), typed AS (
    SELECT *,
        CASE WHEN k < 28 THEN 'api_call' WHEN k < 40 THEN 'feature_usage' WHEN k < 46 THEN 'login'
             WHEN k < 52 THEN 'docs_view' WHEN k < 54 THEN 'signup'
             WHEN k < 64 THEN 'twitter_mention' WHEN k < 68 THEN 'twitter_question'
             WHEN k < 71 THEN 'twitter_complaint' WHEN k < 74 THEN 'twitter_praise'
             WHEN k < 79 THEN 'stackoverflow_question' WHEN k < 82 THEN 'stackoverflow_answer'
             WHEN k < 90 THEN 'github_star' WHEN k < 92 THEN 'github_fork'
             WHEN k < 95 THEN 'github_issue' WHEN k < 97 THEN 'github_pull_request'
             ELSE 'github_comment' END AS signal_type,
        CASE WHEN k < 54 THEN 'product' WHEN k < 74 THEN 'twitter'
             WHEN k < 82 THEN 'stackoverflow' ELSE 'github' END AS source,
        CASE WHEN h % 100 < 8 THEN NULL
             ELSE {ct_lo} + CAST(floor(uc * uc * {ct_n}) AS BIGINT) END AS ct,
        to_timestamp(floor({end_s} - {span_s} * pow(ut, 1.6))) AS occurred_at,
        1500000000000000000 + i * 9973 + CAST(h % 9973 AS BIGINT) AS tweet_id,
        60000000 + i AS so_id,
        (h >> 20) % 1000 / 1000.0 AS u2
    FROM g
), rows AS (
    SELECT *,
        CASE WHEN ct IS NOT NULL AND ct % 10 <> 0 THEN {co_lo} + (ct - {ct_lo}) % {co_n} END AS co,
        'dev_' || CAST((h >> 24) % 500000 AS VARCHAR) AS login,
        '{slug}/' || {_pick(REPOS, "h >> 12")} AS repo,
        CASE signal_type WHEN 'twitter_praise' THEN 'positive' WHEN 'twitter_complaint' THEN 'negative'
             ELSE CASE WHEN (h >> 8) % 100 < 30 THEN 'positive' WHEN (h >> 8) % 100 < 45 THEN 'negative'
                       ELSE 'neutral' END END AS tw_sentiment
    FROM typed
)
SELECT
    CASE source
        WHEN 'product' THEN 'product:' || {_hex("h")} || {_hex("hash(i, 5)")}
        WHEN 'twitter' THEN 'twitter:' || CAST(tweet_id AS VARCHAR)
        WHEN 'stackoverflow' THEN 'stackoverflow:' || replace(signal_type, 'stackoverflow_', '')
            || ':' || CAST(so_id AS VARCHAR)
        ELSE 'github:' || replace(signal_type, 'github_', '') || ':' || CAST(i AS VARCHAR) END,
    '{name}',
    source,
    signal_type,
    occurred_at,
    CASE WHEN ct IS NOT NULL THEN {_id("ct-", "ct")} END,
    CASE WHEN co IS NOT NULL THEN {_id("co-", "co")} END,
    CASE WHEN source = 'twitter' THEN tw_sentiment END,
    CASE WHEN source <> 'twitter' THEN NULL
         WHEN tw_sentiment = 'positive' THEN round(0.05 + 0.95 * u2, 4)
         WHEN tw_sentiment = 'negative' THEN round(-0.05 - 0.95 * u2, 4)
         ELSE round((u2 - 0.5) * 0.1, 4) END,
    CASE source
        WHEN 'twitter' THEN 'https://x.com/' || login || '/status/' || CAST(tweet_id AS VARCHAR)
        WHEN 'stackoverflow' THEN 'https://stackoverflow.com/questions/' || CAST(so_id AS VARCHAR)
        WHEN 'github' THEN 'https://github.com/' || repo || '/' || replace(signal_type, 'github_', '')
            || '/' || CAST(i % 100000 AS VARCHAR)
        WHEN 'product' THEN CASE WHEN signal_type = 'docs_view'
            THEN 'https://docs.{slug}.dev/docs/' || {_pick(PAGES, "h >> 4")} END END,
    CASE source
        WHEN 'twitter' THEN json_object(
            'text', {_pick(PHRASES, "h >> 3")} || ' @{slug} ' || {_pick(TOPICS, "h >> 7")}
                || ' #' || {_pick(TAGS, "h >> 11")} || ' cc @' || login,
            'tweet_type', replace(signal_type, 'twitter_', ''),
            'author_id', CAST(h % 2000000000 AS VARCHAR), 'username', login,
            'keywords', ['{slug}', {_pick(TAGS, "h >> 13")}], 'lang', 'en',
            'like_count', (h >> 5) % 60, 'retweet_count', (h >> 6) % 9, 'reply_count', (h >> 9) % 6,
            'identity_method', {method})
        WHEN 'stackoverflow' THEN json_object(
            'title', {_pick(TITLES_SO, "h >> 3")}, 'url', 'https://stackoverflow.com/questions/'
                || CAST(so_id AS VARCHAR),
            'tags', ['{slug}', {_pick(TAGS, "h >> 11")}], 'matched_tags', ['{slug}'],
            'score', (h >> 5) % 25, 'view_count', (h >> 6) % 5000, 'answer_count', (h >> 9) % 4,
            'is_answered', (h >> 10) % 3 > 0,
            'is_accepted', CASE WHEN signal_type = 'stackoverflow_answer' THEN (h >> 14) % 2 = 0 END,
            'question_id', so_id, 'owner_display_name', login, 'owner_user_type', 'registered',
            'identity_method', {method})
        WHEN 'github' THEN json_object(
            'repository', repo, 'login', login, 'user_id', (h >> 2) % 90000000,
            'title', CASE WHEN signal_type IN ('github_issue', 'github_pull_request', 'github_fork')
                THEN {_pick(TITLES_GH, "h >> 3")} END,
            'state', CASE WHEN signal_type IN ('github_issue', 'github_pull_request')
                THEN {_pick(("open", "closed"), "h >> 15")} END,
            'number', CASE WHEN signal_type IN ('github_issue', 'github_pull_request', 'github_comment')
                THEN i % 100000 END,
            'kind', CASE WHEN signal_type = 'github_comment' THEN 'issue' END,
            'url', 'https://github.com/' || repo, 'identity_method', {method})
        ELSE json_object(
            'type', CASE WHEN signal_type = 'docs_view' THEN 'page' ELSE 'track' END,
            'event', CASE signal_type WHEN 'api_call' THEN 'API Call Made'
                WHEN 'feature_usage' THEN 'Feature Used' WHEN 'login' THEN 'Signed In'
                WHEN 'signup' THEN 'Signed Up' END,
            'name', CASE WHEN signal_type = 'docs_view' THEN 'Docs' END,
            'user_id', CASE WHEN ct IS NOT NULL THEN 'user-' || CAST(ct AS VARCHAR) END,
            'anonymous_id', {_hex("hash(i, 6)")},
            'properties', CASE signal_type
                WHEN 'api_call' THEN json_object('endpoint', {_pick(ENDPOINTS, "h >> 3")},
                    'method', {_pick(("GET", "POST"), "h >> 7")},
                    'status', [200, 200, 200, 201, 400, 429][1 + CAST((h >> 9) % 6 AS BIGINT)],
                    'duration_ms', 3 + (h >> 12) % 900, 'region', {_pick(REGIONS, "h >> 15")})
                WHEN 'feature_usage' THEN json_object('feature', {_pick(FEATURES, "h >> 3")},
                    'plan', {_pick(PLANS, "h >> 7")},
                    'workspace_id', 'ws-' || CAST((h >> 9) % 5000 AS VARCHAR),
                    'first_time', (h >> 13) % 10 = 0)
                WHEN 'docs_view' THEN json_object('path', '/docs/' || {_pick(PAGES, "h >> 4")},
                    'referrer', 'https://www.google.com/')
                ELSE json_object('plan', {_pick(PLANS, "h >> 7")},
                    'workspace_id', 'ws-' || CAST((h >> 9) % 5000 AS VARCHAR),
                    'method', {_pick(("github", "google", "password"), "h >> 13")}) END,
            'identity_method', {method}) END,
    occurred_at + to_seconds(CAST(30 + (h >> 16) % 3600 AS BIGINT))
FROM rows
"""


def companies_sql(org: dict) -> str:
    lo, n = org["co_lo"], org["co_n"]
    return f"""
INSERT INTO core.companies (organization_id, company_id, name, domain, created_at, plan, legal_name,
    description, industry, sector, sub_industry, employees, employees_range,
    estimated_annual_revenue, founded_year, country, city, linkedin_handle, twitter_handle,
    tech_stack, enriched_at, enrichment_source)
WITH g AS (SELECT c, hash(c, 11) AS h FROM range({lo}, {lo + n}) r(c))
SELECT '{org["name"]}', {_id("co-", "c")}, {_pick(LAST, "h")} || ' ' || {_pick(TECH, "h >> 5")}
        || ' ' || CAST(c AS VARCHAR),
    'company' || CAST(c AS VARCHAR) || '.example.com',
    to_timestamp({ANCHOR_S} - (h >> 8) % ({HISTORY_DAYS + 400} * {DAY_S})),
    {_pick(PLANS, "h >> 3")}, 'Company ' || CAST(c AS VARCHAR) || ' Inc.',
    'Builds software for ' || lower({_pick(INDUSTRIES, "h >> 7")}) || ' teams.',
    {_pick(INDUSTRIES, "h >> 7")}, 'Information Technology', 'Application Software',
    5 + (h >> 11) % 5000, {_pick(EMPLOYEE_RANGES, "h >> 11")}, {_pick(REVENUE, "h >> 13")},
    1990 + (h >> 17) % 34, {_pick(COUNTRIES, "h >> 19")}, {_pick(CITIES, "h >> 21")},
    'company/company' || CAST(c AS VARCHAR), 'co' || CAST(c AS VARCHAR),
    to_json([{_pick(TECH, "h >> 23")}, {_pick(TECH, "h >> 27")}, {_pick(TECH, "h >> 31")}]),
    CASE WHEN (h >> 35) % 10 < 6 THEN to_timestamp({ANCHOR_S} - (h >> 36) % (90 * {DAY_S})) END,
    CASE WHEN (h >> 35) % 10 < 6 THEN 'clearbit_v2' END
FROM g
"""


def contacts_sql(org: dict, lo: int, hi: int) -> str:
    ct_lo, co_lo, co_n = org["ct_lo"], org["co_lo"], org["co_n"]
    return f"""
INSERT INTO core.contacts (organization_id, contact_id, company_id, full_name, email, source,
    created_at, updated_at, title, phone, role, seniority, city, country, twitter, github, linkedin,
    avatar, employment_domain, employment_company_id, enriched_at, enrichment_source)
WITH g AS (
    SELECT j, hash(j, 21) AS h,
        CASE WHEN j % 10 <> 0 THEN {co_lo} + (j - {ct_lo}) % {co_n} END AS co
    FROM range({lo}, {hi}) r(j)
)
SELECT '{org["name"]}', {_id("ct-", "j")}, CASE WHEN co IS NOT NULL THEN {_id("co-", "co")} END,
    {_pick(FIRST, "h")} || ' ' || {_pick(LAST, "h >> 4")},
    'contact' || CAST(j AS VARCHAR) || '@' || CASE WHEN co IS NOT NULL
        THEN 'company' || CAST(co AS VARCHAR) || '.example.com' ELSE 'gmail.com' END,
    {_pick(("crm", "crm", "product", "twitter", "stackoverflow"), "h >> 8")},
    to_timestamp({ANCHOR_S} - (h >> 8) % ({HISTORY_DAYS} * {DAY_S})),
    to_timestamp({ANCHOR_S} - (h >> 9) % (30 * {DAY_S})),
    {_pick(JOB_TITLES, "h >> 12")}, CASE WHEN (h >> 14) % 4 = 0 THEN '+1 555 0100' END,
    {_pick(ROLES, "h >> 16")}, {_pick(SENIORITY, "h >> 18")}, {_pick(CITIES, "h >> 20")},
    {_pick(COUNTRIES, "h >> 22")}, 'dev_' || CAST((h >> 24) % 500000 AS VARCHAR),
    'gh-' || CAST(j AS VARCHAR), 'in/contact-' || CAST(j AS VARCHAR),
    'https://avatars.example.com/' || CAST(j AS VARCHAR) || '.png',
    CASE WHEN co IS NOT NULL THEN 'company' || CAST(co AS VARCHAR) || '.example.com' END,
    CASE WHEN co IS NOT NULL THEN {_id("co-", "co")} END,
    CASE WHEN (h >> 30) % 10 < 5 THEN to_timestamp({ANCHOR_S} - (h >> 32) % (90 * {DAY_S})) END,
    CASE WHEN (h >> 30) % 10 < 5 THEN 'clearbit_v2' END
FROM g
"""


def deals_sql(org: dict) -> str:
    lo, n = org["co_lo"], org["co_n"]
    return f"""
INSERT INTO core.deals (organization_id, deal_id, company_id, name, stage, amount, currency,
    close_date, external_id, created_at, updated_at, stage_changes)
WITH g AS (SELECT c, hash(c, 31) AS h FROM range({lo}, {lo + n}) r(c) WHERE c % 5 = 0),
d AS (SELECT *, to_timestamp({ANCHOR_S} - (h >> 8) % (700 * {DAY_S})) AS created FROM g)
SELECT '{org["name"]}', {_id("deal-", "c")}, {_id("co-", "c")}, 'Company ' || CAST(c AS VARCHAR)
        || ' deal', {_pick(("lead", "qualified", "proposal", "won", "lost"), "h")},
    CASE WHEN h % 20 = 0 THEN NULL ELSE CAST(100 * (10 + (h >> 4) % 900) AS DOUBLE) END, 'USD',
    created + INTERVAL 45 DAY, 'crm-' || CAST(c AS VARCHAR), created,
    least(created + to_seconds(CAST((h >> 12) % (20 * {DAY_S}) AS BIGINT)),
        TIMESTAMPTZ '{ANCHOR.isoformat()}'),
    CAST((h >> 20) % 6 AS BIGINT)
FROM d
"""


def _wh_url(home: Path) -> str:
    return f"duckdb:///{home / 'warehouse.duckdb'}"


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which starts afresh at exec. getrusage's ru_maxrss does
    not: Linux carries the parent's RSS at fork over into a child's ru_maxrss, so a publish child
    of this (multi-GB) benchmark process would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def prepare(home: Path, orgs: list[dict], models: bool) -> dict:
    from devsignal_pipelines.lib.stores.warehouse import Warehouse

    warehouse = Warehouse(_wh_url(home))
    warehouse.ensure_tables()
    out: dict = {}
    chunk = 2_000_000
    with warehouse.session():
        for table, build in (
            ("core.companies", lambda o: [companies_sql(o)]),
            ("core.deals", lambda o: [deals_sql(o)]),
            ("core.contacts", lambda o: [contacts_sql(o, o["ct_lo"], o["ct_lo"] + o["ct_n"])]),
            (
                "core.signals",
                lambda o: [
                    signals_sql(
                        o, lo, min(lo + chunk, o["sig_lo"] + o["sig_n"]), ANCHOR_S, HISTORY_DAYS
                    )
                    for lo in range(o["sig_lo"], o["sig_lo"] + o["sig_n"], chunk)
                ],
            ),
        ):

            def fill(build=build) -> None:
                for org in orgs:
                    for sql in build(org):
                        with warehouse.transaction() as tx:
                            tx.execute_sql(sql)

            out[f"fill_{table}_s"] = round(_timed(fill), 1)
    out["fill_s"] = round(sum(v for k, v in out.items() if k.startswith("fill_")), 1)
    out["models"] = None
    if models:
        from devsignal_pipelines.lib.sql_models import load_project
        from devsignal_pipelines.lib.sql_models.runner import run_models

        started = time.perf_counter()
        try:
            results = run_models(load_project(), warehouse, full_refresh=True, as_of=ANCHOR)
        except Exception as exc:  # report and go on with core.* only
            out["models_error"] = f"{type(exc).__name__}: {exc}"
        else:
            out["models"] = {r.model.relation: [r.rows, round(r.seconds, 1)] for r in results}
        out["models_s"] = round(time.perf_counter() - started, 1)
    return out


# --- a publish in its own process --------------------------------------------------------------


def phase_publish(args: argparse.Namespace) -> dict:
    from devsignal_pipelines.lib.stores.published import publish
    from devsignal_pipelines.lib.stores.warehouse import Warehouse
    from devsignal_pipelines.settings import load_settings

    settings = load_settings()
    before = _peak_rss_mb()
    tables = None if args.tables == "ALL" else args.tables.split(",")
    if args.ready_file:
        Path(args.ready_file).write_text("publishing")
    report = publish(
        Warehouse(settings.warehouse_url),
        settings.publish_dir,
        tables=tables,
        grace_s=settings.publish_grace_s,
        organizations=args.organizations.split(",") if args.organizations else None,
    )
    return {
        "seconds": report.seconds,
        "written": report.written,
        "unchanged": report.unchanged,
        "deleted_files": report.deleted_files,
        "peak_rss_mb": round(_peak_rss_mb()),
        "rss_before_mb": round(before),
    }


def _publish_command(
    tables: list[str] | None, ready_file: Path | None = None, organization: str | None = None
) -> list[str]:
    command = [sys.executable, "-m", "benchmarks.bench_publish", "--phase", "publish"]
    command += ["--tables", "ALL" if tables is None else ",".join(tables)]
    if organization:  # as the success hook of that organization's run publishes
        command += ["--organizations", organization]
    if ready_file:
        command += ["--ready-file", str(ready_file)]
    return command


def run_publish(tables: list[str] | None, organization: str | None = None) -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        _publish_command(tables, organization=organization),
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"publish failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


# --- the read side -----------------------------------------------------------------------------

HELD_READER = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
def snapshot():
    rows, newest = con.execute(
        "SELECT count(*), max(ingested_at)::VARCHAR FROM core.signals").fetchone()
    version = con.execute(
        "SELECT version FROM published_tables WHERE table_name = 'core.signals'").fetchone()[0]
    return {"rows": rows, "newest": newest, "version": version}
print(json.dumps(snapshot()), flush=True)
for line in sys.stdin:
    print(json.dumps(snapshot()), flush=True)
"""


def _counts(con, tables: list[str]) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def _time_queries(path: Path, org: str, runs: int = 3) -> dict:
    import duckdb

    out: dict = {}
    started = time.perf_counter()
    con = duckdb.connect(str(path), read_only=True)
    out["connect_s"] = time.perf_counter() - started
    try:
        con.execute("SET enable_progress_bar = false")
        for name, template in QUERIES:
            sql = template.format(org=org, anchor=ANCHOR.isoformat())
            times, rows = [], None
            for _ in range(runs):
                started = time.perf_counter()
                rows = con.execute(sql).fetchall()
                times.append(time.perf_counter() - started)
            out[name] = {"first_s": times[0], "best_s": min(times), "rows": rows}
    finally:
        con.close()
    return out


def _insert_signals(warehouse, org: dict, lo: int, hi: int) -> float:
    """A sync's write: new signals of one organization, occurred in the last day."""

    def write() -> None:
        with warehouse.transaction() as tx:
            tx.execute_sql(signals_sql(org, lo, hi, ANCHOR_S, 1.0))

    return _timed(write)


# --- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, home: Path) -> dict:
    import duckdb

    from devsignal_pipelines.lib.stores.published import read_manifest
    from devsignal_pipelines.lib.stores.warehouse import Warehouse
    from devsignal_pipelines.settings import load_settings

    settings = load_settings()
    orgs = organizations(args.orgs, args.signals)
    largest = orgs[0]
    r: dict = {"signals": args.signals, "organizations": args.orgs, "cores": os.cpu_count()}
    r["duckdb"] = duckdb.__version__
    r["prepare"] = prepare(home, orgs, not args.no_models)
    warehouse = Warehouse(settings.warehouse_url, lock_timeout_s=600)
    r["warehouse_bytes"] = warehouse.path.stat().st_size

    # (a) first publish
    r["first"] = run_publish(None)
    published = sorted(r["first"]["written"])
    manifest = read_manifest(settings.publish_dir)
    with warehouse.read_connection() as con:
        wh_counts = _counts(con, published)
    with duckdb.connect(str(settings.read_path), read_only=True) as con:
        rp_counts = _counts(con, published)
    r["counts_equal"] = wh_counts == rp_counts and all(
        manifest["tables"][t]["rows"] == n for t, n in wh_counts.items()
    )
    r["count_mismatches"] = {
        t: [wh_counts[t], rp_counts.get(t)] for t in published if wh_counts[t] != rp_counts.get(t)
    }

    # (b) nothing changed
    r["unchanged_all"] = run_publish(None)
    r["unchanged_signals"] = run_publish(["core.signals"])

    # (c) a sync adds 0.1% signals
    next_id = args.signals
    sync_rows = args.sync_rows if args.sync_rows is not None else max(args.signals // 1000, 1)
    r["sync_rows"] = sync_rows
    r["sync_write_s"] = _insert_signals(warehouse, largest, next_id, next_id + sync_rows)
    next_id += sync_rows
    r["after_sync"] = run_publish(["core.signals"], largest["name"])

    # (d) a step that changed contacts only
    new_contacts = max(largest["ct_n"] // 1000, 10)
    ct_hi = sum(o["ct_n"] for o in orgs)
    with warehouse.transaction() as tx:
        tx.execute_sql(contacts_sql(largest, ct_hi, ct_hi + new_contacts))
    r["contacts_rows"] = new_contacts
    r["after_contacts"] = run_publish(["core.contacts"], largest["name"])

    # (e) analyst queries: read path vs the warehouse file
    r["queries_read_path"] = _time_queries(settings.read_path, largest["name"])
    r["queries_warehouse"] = _time_queries(warehouse.path, largest["name"])
    r["queries_equal"] = all(
        r["queries_read_path"][name]["rows"] == r["queries_warehouse"][name]["rows"]
        for name, _ in QUERIES
    )

    # (f) a reader holds the read path open while the pipeline writes and publishes
    reader = subprocess.Popen(
        [sys.executable, "-c", HELD_READER, str(settings.read_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        held_before = json.loads(reader.stdout.readline())
        waits: list[str] = []
        writer = Warehouse(settings.warehouse_url, lock_timeout_s=60, on_lock_wait=waits.append)
        writer.lock_report_after_s = 0.0
        f: dict = {"reader_before": held_before}
        try:
            f["write_s"] = _insert_signals(writer, largest, next_id, next_id + sync_rows)
            f["write_ok"] = True
        except Exception as exc:
            f["write_s"], f["write_ok"], f["write_error"] = None, False, str(exc)
        next_id += sync_rows
        f["lock_waits"] = waits
        f["publish"] = run_publish(["core.signals"], largest["name"])
        reader.stdin.write("again\n")
        reader.stdin.flush()
        f["reader_after"] = json.loads(reader.stdout.readline())
        with duckdb.connect(str(settings.read_path), read_only=True) as con:
            f["new_reader_rows"] = con.execute("SELECT count(*) FROM core.signals").fetchone()[0]
        with warehouse.read_connection() as con:
            f["warehouse_rows"] = con.execute("SELECT count(*) FROM core.signals").fetchone()[0]
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    r["held"] = f

    # (g) a pipeline write while a publish exports core.signals (another process)
    _insert_signals(warehouse, largest, next_id, next_id + sync_rows)
    next_id += sync_rows
    ready = home / "publish-started"
    child = subprocess.Popen(
        _publish_command(["core.signals"], ready, largest["name"]),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not ready.exists() and child.poll() is None:
        time.sleep(0.01)
    publish_started = time.perf_counter()
    time.sleep(args.write_delay)
    waits = []
    writer = Warehouse(settings.warehouse_url, lock_timeout_s=600, on_lock_wait=waits.append)
    writer.lock_report_after_s, writer.lock_report_every_s = 0.0, 1.0
    g: dict = {"issued_after_s": time.perf_counter() - publish_started}
    g["write_s"] = _insert_signals(writer, largest, next_id, next_id + sync_rows)
    g["lock_waits"] = len(waits)
    out, err = child.communicate()
    if child.returncode:
        raise SystemExit(f"publish failed:\n{err[-4000:]}")
    g["publish"] = json.loads(out.splitlines()[-1])
    r["write_during_publish"] = g

    r["published_dir_bytes"] = sum(
        p.stat().st_size for p in settings.publish_dir.rglob("*") if p.is_file()
    )
    r["checks"] = {
        "published row counts equal the warehouse's": r["counts_equal"],
        "unchanged publish exports nothing (all tables)": not r["unchanged_all"]["written"],
        "unchanged publish exports nothing (tables=['core.signals'])": not r["unchanged_signals"][
            "written"
        ],
        "incremental publish touches only the changed table (signals)": (
            list(r["after_sync"]["written"]) == ["core.signals"]
            and r["after_sync"]["unchanged"] == []
        ),
        "incremental publish touches only the changed table (contacts)": (
            list(r["after_contacts"]["written"]) == ["core.contacts"]
            and r["after_contacts"]["unchanged"] == []
        ),
        "read path answers the analyst queries like the warehouse": r["queries_equal"],
        "the held reader did not block the writer": f["write_ok"] and not f["lock_waits"],
        "the held reader did not block the publish": list(f["publish"]["written"])
        == ["core.signals"],
        "the held session still reads its old snapshot": f["reader_after"] == f["reader_before"],
        "a new session reads the new publish": f["new_reader_rows"] == f["warehouse_rows"]
        and f["new_reader_rows"] == f["reader_before"]["rows"] + sync_rows,
    }
    r["ok"] = all(r["checks"].values())
    return r


# --- the report --------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


def _publish_line(p: dict) -> str:
    written = p["written"]
    rows = sum(e["rows"] for e in written.values())
    size = sum(e["bytes"] for e in written.values())
    export = sum(e["seconds"] for e in written.values())
    what = ", ".join(written) if len(written) <= 3 else f"{len(written)} tables"
    return (
        f"{p['seconds']:6.1f} s  wrote {what or 'nothing'} ({rows:,} rows, {_mb(size)}, "
        f"export {export:.1f} s); "
        f"{len(p['unchanged'])} unchanged; peak RSS {p['peak_rss_mb']:,} MB "
        f"({p['rss_before_mb']:,} MB before publish)"
    )


def report(r: dict) -> None:
    p = r["prepare"]
    print(
        f"warehouse            {r['signals']:,} signals, {r['organizations']} organizations, "
        f"DuckDB {r['duckdb']}, {r['cores']} cores; file {_mb(r['warehouse_bytes'])}"
    )
    fills = ", ".join(
        f"{k.removeprefix('fill_').removesuffix('_s')} {v} s"
        for k, v in p.items()
        if k.startswith("fill_core")
    )
    print(f"  fill (set-based)   {p['fill_s']} s: {fills}")
    if p.get("models"):
        print(
            f"  models             {len(p['models'])} built in {p['models_s']} s (full refresh, "
            "lib.sql_models.runner.run_models)"
        )
    elif "models_error" in p:
        print(f"  models             FAILED after {p['models_s']} s: {p['models_error']}")
    else:
        print("  models             not built (--no-models): core.* only")

    first = r["first"]
    print(f"(a) first publish    {_publish_line(first)}")
    print(f"    {'table':34} {'rows':>12} {'parquet':>11} {'export s':>9}")
    for name, e in sorted(first["written"].items(), key=lambda kv: -kv[1]["bytes"]):
        print(f"    {name:34} {e['rows']:>12,} {_mb(e['bytes']):>11} {e['seconds']:>9.2f}")
    total = sum(e["bytes"] for e in first["written"].values())
    print(
        f"    total parquet {_mb(total)} = {total / r['warehouse_bytes']:.0%} of the warehouse "
        f"file ({_mb(r['warehouse_bytes'])}, which also holds intermediate.* and raw.*)"
    )
    print(f"(b) unchanged, all   {_publish_line(r['unchanged_all'])}")
    print(f"    unchanged signals{_publish_line(r['unchanged_signals'])}")
    print(
        f"(c) after a sync     +{r['sync_rows']:,} signals (the write: {r['sync_write_s']:.2f} s), "
        f"tables=['core.signals']:"
    )
    print(f"                     {_publish_line(r['after_sync'])}")
    print(f"(d) contacts only    +{r['contacts_rows']:,} contacts, tables=['core.contacts']:")
    print(f"                     {_publish_line(r['after_contacts'])}")
    rp, wh = r["queries_read_path"], r["queries_warehouse"]
    print(
        f"(e) analyst queries  read path (connect {rp['connect_s'] * 1000:.0f} ms) vs "
        f"warehouse.duckdb (connect {wh['connect_s'] * 1000:.0f} ms); first / best of 3"
    )
    for name, _ in QUERIES:
        a, b = rp[name], wh[name]
        print(
            f"    {name:28} {a['first_s'] * 1000:7.0f} / {a['best_s'] * 1000:6.0f} ms   vs "
            f"{b['first_s'] * 1000:7.0f} / {b['best_s'] * 1000:6.0f} ms"
        )
    f = r["held"]
    write = f"{f['write_s']:.2f} s" if f["write_ok"] else f"FAILED ({f.get('write_error')})"
    print(
        f"(f) held reader      write of {r['sync_rows']:,} signals {write}, "
        f"{len(f['lock_waits'])} lock waits; publish {f['publish']['seconds']:.1f} s"
    )
    print(
        f"    held session     {f['reader_before']['rows']:,} rows before, "
        f"{f['reader_after']['rows']:,} after (version {f['reader_after']['version']}); "
        f"a new session {f['new_reader_rows']:,} (warehouse {f['warehouse_rows']:,})"
    )
    g = r["write_during_publish"]
    print(
        f"(g) write during     a {r['sync_rows']:,}-row write issued {g['issued_after_s']:.1f} s into a publish "
        f"of core.signals ({g['publish']['seconds']:.1f} s) took {g['write_s']:.1f} s, "
        f"{g['lock_waits']} lock-wait reports (the same write uncontended in (f): "
        f"{f['write_s'] or 0:.1f} s): the publish holds warehouse.duckdb read-only while it runs"
    )
    print(f"published dir        {_mb(r['published_dir_bytes'])} on disk (grace period 3600 s)")
    for name, ok in r["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    print(summary(r))


def summary(r: dict) -> str:
    first = r["first"]
    size = sum(e["bytes"] for e in first["written"].values())
    scope = "core.* + analytics.*" if r["prepare"].get("models") else "core.* only"
    return (
        f"publish at {r['signals'] / 1e6:g}M signals ({scope}): first {first['seconds']:.1f} s "
        f"({_mb(size)} parquet, peak RSS {first['peak_rss_mb']:,} MB), unchanged "
        f"{r['unchanged_all']['seconds']:.1f} s (all) / {r['unchanged_signals']['seconds']:.1f} s "
        f"(signals), after a {r['sync_rows']:,}-row sync {r['after_sync']['seconds']:.1f} s, "
        f"contacts-only step {r['after_contacts']['seconds']:.1f} s; a write during a publish "
        f"waited {r['write_during_publish']['write_s']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signals", type=int, default=10_000_000)
    parser.add_argument("--orgs", type=int, default=50, help="organizations")
    parser.add_argument("--sync-rows", type=int, help="signals a sync adds (default 0.1%%)")
    parser.add_argument("--no-models", action="store_true", help="publish core.* only")
    parser.add_argument(
        "--write-delay", type=float, default=1.0, help="(g): seconds into the publish"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--phase", choices=["publish"], help=argparse.SUPPRESS)
    parser.add_argument("--tables", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", help=argparse.SUPPRESS)
    parser.add_argument("--organizations", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "publish":
        print(json.dumps(phase_publish(args)))
        return
    if args.signals < 1000 or args.orgs < 1:
        parser.error("--signals must be >= 1000 and --orgs >= 1")

    home = Path(tempfile.mkdtemp(prefix="bench_publish_"))
    os.environ["DEVSIGNAL_HOME"] = str(home)
    os.environ["DEVSIGNAL_WAREHOUSE_URL"] = _wh_url(home)
    for name in ("DEVSIGNAL_PUBLISHED_DIR", "DEVSIGNAL_PUBLISH_GRACE_S"):
        os.environ.pop(name, None)
    try:
        result = run(args, home)
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
