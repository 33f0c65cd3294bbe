"""core.companies / core.contacts: the CRM merged with cached enrichment, and enrichment coverage.

The CRM rows are loaded as they are, then one UPDATE ... FROM raw.enrichment_cache per table
applies the merge rules in SQL (same statement on DuckDB and PostgreSQL):
- name, description (companies), full_name, title and the X / GitHub handles (contacts) are
  filled only when the CRM (or a Segment identify / group) has none, so the customer's data wins;
- industry, size, web and social fields take the enrichment (employees falls back to the CRM's);
- the control DB is never written: the merged result lives in the warehouse only.
"""

from __future__ import annotations

import pandas as pd

from devsignal_pipelines.lib.stores.tables import (
    ANALYTICS_ENRICHMENT_COVERAGE,
    CORE_COMPANIES,
    CORE_CONTACTS,
)
from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction

_COMPANY_MERGE = """
UPDATE core.companies AS c SET
    name = COALESCE(c.name, e.mapped->>'name'),
    description = COALESCE(c.description, e.mapped->>'description'),
    legal_name = e.mapped->>'legal_name',
    industry = e.mapped->>'industry',
    sector = e.mapped->>'sector',
    sub_industry = e.mapped->>'sub_industry',
    employees = COALESCE(CAST(e.mapped->>'employees' AS BIGINT), c.employees),
    employees_range = e.mapped->>'employees_range',
    estimated_annual_revenue = e.mapped->>'estimated_annual_revenue',
    founded_year = CAST(e.mapped->>'founded_year' AS BIGINT),
    country = e.mapped->>'country',
    city = e.mapped->>'city',
    linkedin_handle = e.mapped->>'linkedin_handle',
    twitter_handle = e.mapped->>'twitter_handle',
    tech_stack = e.mapped->'tech_stack',
    enriched_at = e.fetched_at,
    enrichment_source = e.mapped->>'source'
FROM raw.enrichment_cache AS e
WHERE c.organization_id = :o AND e.organization_id = c.organization_id
    AND e.kind = 'company' AND e.status = 'found' AND e.lookup_key = c.domain
"""

_CONTACT_MERGE = """
UPDATE core.contacts AS c SET
    full_name = COALESCE(c.full_name, e.mapped->>'full_name'),
    title = COALESCE(c.title, e.mapped->>'title'),
    role = e.mapped->>'role',
    seniority = e.mapped->>'seniority',
    city = e.mapped->>'city',
    country = e.mapped->>'country',
    twitter = COALESCE(c.twitter, e.mapped->>'twitter'),
    github = COALESCE(c.github, e.mapped->>'github'),
    linkedin = e.mapped->>'linkedin',
    avatar = e.mapped->>'avatar',
    employment_domain = e.mapped->>'employment_domain',
    enriched_at = e.fetched_at,
    enrichment_source = e.mapped->>'source'
FROM raw.enrichment_cache AS e
WHERE c.organization_id = :o AND e.organization_id = c.organization_id
    AND e.kind = 'person' AND e.status = 'found' AND e.lookup_key = lower(c.email)
"""

# The employer named by the enrichment, when the organization has a company on that domain.
_CONTACT_EMPLOYER = """
UPDATE core.contacts AS c SET employment_company_id = co.company_id
FROM core.companies AS co
WHERE c.organization_id = :o AND co.organization_id = c.organization_id AND co.domain = c.employment_domain
"""

_COVERAGE = """
WITH records AS (
    SELECT 'company' AS kind, domain AS lookup_key, enriched_at FROM core.companies WHERE organization_id = :o
    UNION ALL
    SELECT 'person', lower(email), enriched_at FROM core.contacts WHERE organization_id = :o
),
per_kind AS (
    SELECT kind, count(*) AS records, count(enriched_at) AS enriched,
           sum(CASE WHEN lookup_key IS NULL OR lookup_key = '' THEN 1 ELSE 0 END) AS missing_key
    FROM records GROUP BY kind
),
statuses AS (
    SELECT kind,
           sum(CASE WHEN status = 'found' THEN 1 ELSE 0 END) AS found,
           sum(CASE WHEN status = 'queued' THEN 1 ELSE 0 END) AS queued,
           sum(CASE WHEN status = 'not_found' THEN 1 ELSE 0 END) AS not_found,
           sum(CASE WHEN status = 'invalid' THEN 1 ELSE 0 END) AS invalid,
           max(CASE WHEN status = 'found' THEN fetched_at END) AS last_enriched_at
    FROM raw.enrichment_cache WHERE organization_id = :o GROUP BY kind
)
SELECT :o AS organization_id, k.kind,
       COALESCE(p.records, 0) AS records, COALESCE(p.enriched, 0) AS enriched,
       CASE WHEN COALESCE(p.records, 0) = 0 THEN 0.0 ELSE CAST(p.enriched AS DOUBLE PRECISION) / p.records END
           AS enriched_share,
       COALESCE(s.found, 0) AS found, COALESCE(s.queued, 0) AS queued, COALESCE(s.not_found, 0) AS not_found,
       COALESCE(s.invalid, 0) AS invalid, COALESCE(p.missing_key, 0) AS missing_key, s.last_enriched_at
FROM (SELECT 'company' AS kind UNION ALL SELECT 'person') k
LEFT JOIN per_kind p ON p.kind = k.kind
LEFT JOIN statuses s ON s.kind = k.kind
"""


def build_companies(
    tx: WarehouseTransaction, organization_id: str, crm_companies: pd.DataFrame
) -> int:
    rows = tx.replace_partition(CORE_COMPANIES, crm_companies, organization_id)
    tx.execute(_COMPANY_MERGE, {"o": organization_id})
    return rows


def build_contacts(
    tx: WarehouseTransaction, organization_id: str, crm_contacts: pd.DataFrame
) -> int:
    rows = tx.replace_partition(CORE_CONTACTS, crm_contacts, organization_id)
    tx.execute(_CONTACT_MERGE, {"o": organization_id})
    tx.execute(_CONTACT_EMPLOYER, {"o": organization_id})
    return rows


def build_coverage(tx: WarehouseTransaction, organization_id: str) -> pd.DataFrame:
    coverage = tx.fetch_df(_COVERAGE, {"o": organization_id})
    tx.replace_partition(ANALYTICS_ENRICHMENT_COVERAGE, coverage, organization_id)
    return coverage
