{{ config(materialized='table') }}
-- Per organization and signal source: reach, the deals it touched and the pipeline value credited
-- to it. A deal (created at or before the as-of time, with a company) is touched by every signal of
-- its company that occurred strictly before the deal's created_at; NULL amounts count as 0.
-- The touches are reduced per (deal, source) to a count and the first / last touch time: the
-- first-touch source is the one with the earliest touch (ties: the smallest source, as ordering
-- the touches by occurred_at, source, signal_id would pick), the last-touch source the one with
-- the latest (ties: the largest source), and linear credit is amount * touches / all touches.
WITH signals AS (
    SELECT organization_id, source, company_id, occurred_at
    FROM {{ source('core', 'signals') }}
    WHERE occurred_at <= {{ as_of() }}
),
per_account AS (
    SELECT organization_id, source, company_id, count(*) AS signals
    FROM signals
    GROUP BY organization_id, source, company_id
),
reach AS (
    SELECT
        organization_id,
        source,
        CAST(sum(signals) AS BIGINT) AS signals,
        CAST(count(company_id) AS BIGINT) AS accounts_touched
    FROM per_account
    GROUP BY organization_id, source
),
deals AS (
    SELECT organization_id, deal_id, company_id, coalesce(amount, 0) AS amount, created_at
    FROM {{ source('core', 'deals') }}
    WHERE created_at <= {{ as_of() }} AND company_id IS NOT NULL
),
deal_sources AS (
    SELECT
        d.organization_id,
        d.deal_id,
        d.amount,
        s.source,
        count(*) AS touches,
        min(s.occurred_at) AS first_at,
        max(s.occurred_at) AS last_at
    FROM deals d
    JOIN signals s
      ON s.organization_id = d.organization_id
     AND s.company_id = d.company_id
     AND s.occurred_at < d.created_at
    GROUP BY d.organization_id, d.deal_id, d.amount, s.source
),
ranked AS (
    SELECT
        organization_id,
        deal_id,
        amount,
        source,
        touches,
        sum(touches) OVER (PARTITION BY organization_id, deal_id) AS deal_touches,
        row_number() OVER (PARTITION BY organization_id, deal_id ORDER BY first_at, source) AS from_first,
        row_number() OVER (PARTITION BY organization_id, deal_id ORDER BY last_at DESC, source DESC) AS from_last
    FROM deal_sources
),
credit AS (
    SELECT
        organization_id,
        source,
        CAST(count(*) AS BIGINT) AS deals_touched,
        CAST(round(CAST(sum(CASE WHEN from_first = 1 THEN amount ELSE 0 END) AS DECIMAL(18, 6)), 2) AS DOUBLE) AS first_touch,
        CAST(round(CAST(sum(CASE WHEN from_last = 1 THEN amount ELSE 0 END) AS DECIMAL(18, 6)), 2) AS DOUBLE) AS last_touch,
        -- Rounded to cents (through DECIMAL, as elsewhere): a parallel float sum's last digits
        -- depend on the order it adds in, and a re-run must give byte-identical tables.
        CAST(round(CAST(sum(CAST(amount AS DOUBLE) * touches / deal_touches) AS DECIMAL(18, 6)), 2) AS DOUBLE) AS linear
    FROM ranked
    GROUP BY organization_id, source
),
scores AS (
    SELECT t.organization_id, t.source,
           CAST(round(CAST(avg(a.score) AS DECIMAL(18, 6)), 4) AS DOUBLE) AS avg_account_score
    FROM per_account t
    JOIN {{ ref('account_scores') }} a
      ON a.organization_id = t.organization_id AND a.company_id = t.company_id
    GROUP BY t.organization_id, t.source
)
SELECT
    r.organization_id,
    r.source,
    r.signals,
    r.accounts_touched,
    CAST(coalesce(c.deals_touched, 0) AS BIGINT) AS deals_touched,
    CAST(coalesce(c.first_touch, 0) AS DOUBLE) AS pipeline_value_first_touch,
    CAST(coalesce(c.last_touch, 0) AS DOUBLE) AS pipeline_value_last_touch,
    CAST(coalesce(c.linear, 0) AS DOUBLE) AS pipeline_value_linear,
    s.avg_account_score
FROM reach r
LEFT JOIN credit c ON c.organization_id = r.organization_id AND c.source = r.source
LEFT JOIN scores s ON s.organization_id = r.organization_id AND s.source = r.source
