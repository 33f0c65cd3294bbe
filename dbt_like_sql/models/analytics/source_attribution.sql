{{ config(materialized='table') }}
-- Per organization and signal source: reach, the deals it touched and the pipeline value credited
-- to it. A deal (created at or before the as-of time, with a company) is touched by every signal of
-- its company that occurred strictly before the deal's created_at; NULL amounts count as 0.
WITH signals AS (
    SELECT organization_id, signal_id, source, company_id, occurred_at
    FROM {{ source('core', 'signals') }}
    WHERE occurred_at <= {{ as_of() }}
),
reach AS (
    SELECT
        organization_id,
        source,
        CAST(count(*) AS BIGINT) AS signals,
        CAST(count(DISTINCT company_id) AS BIGINT) AS accounts_touched
    FROM signals
    GROUP BY organization_id, source
),
deals AS (
    SELECT organization_id, deal_id, company_id, coalesce(amount, 0) AS amount, created_at
    FROM {{ source('core', 'deals') }}
    WHERE created_at <= {{ as_of() }} AND company_id IS NOT NULL
),
touches AS (
    SELECT
        d.organization_id,
        d.deal_id,
        d.amount,
        s.source,
        row_number() OVER (
            PARTITION BY d.organization_id, d.deal_id ORDER BY s.occurred_at, s.source, s.signal_id
        ) AS from_first,
        row_number() OVER (
            PARTITION BY d.organization_id, d.deal_id
            ORDER BY s.occurred_at DESC, s.source DESC, s.signal_id DESC
        ) AS from_last,
        count(*) OVER (PARTITION BY d.organization_id, d.deal_id) AS touches
    FROM deals d
    JOIN signals s
      ON s.organization_id = d.organization_id
     AND s.company_id = d.company_id
     AND s.occurred_at < d.created_at
),
credit AS (
    SELECT
        organization_id,
        source,
        CAST(count(DISTINCT deal_id) AS BIGINT) AS deals_touched,
        CAST(sum(CASE WHEN from_first = 1 THEN amount ELSE 0 END) AS DOUBLE) AS first_touch,
        CAST(sum(CASE WHEN from_last = 1 THEN amount ELSE 0 END) AS DOUBLE) AS last_touch,
        CAST(sum(amount / touches) AS DOUBLE) AS linear
    FROM touches
    GROUP BY organization_id, source
),
scores AS (
    SELECT t.organization_id, t.source, CAST(avg(a.score) AS DOUBLE) AS avg_account_score
    FROM (
        SELECT DISTINCT organization_id, source, company_id
        FROM signals
        WHERE company_id IS NOT NULL
    ) t
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
