{{ config(materialized='table') }}
{% set s = var('scoring') %}
-- Each account's latest score (latest snapshot at or before the as-of time) with the previous
-- snapshot it is compared to, the change, and a trend label.
WITH ranked AS (
    SELECT
        h.organization_id,
        h.company_id,
        h.snapshot_at,
        h.score,
        h.tier,
        h.signals,
        h.last_signal_at,
        row_number() OVER (
            PARTITION BY h.organization_id, h.company_id ORDER BY h.snapshot_at DESC
        ) AS recency
    FROM {{ ref('account_score_history') }} h
    WHERE h.snapshot_at <= {{ as_of() }}
),
latest AS (
    -- The organization's newest snapshot: an account missing from it (its signals moved to
    -- another company, or were deleted) is not current any more and is left out.
    SELECT organization_id, max(snapshot_at) AS snapshot_at
    FROM ranked
    GROUP BY organization_id
),
compared AS (
    SELECT
        cur.organization_id,
        cur.company_id,
        cur.score,
        cur.tier,
        cur.signals,
        cur.last_signal_at,
        cur.snapshot_at,
        prev.score AS previous_score,
        prev.tier AS previous_tier,
        prev.snapshot_at AS previous_snapshot_at,
        CAST(round(CAST(cur.score - prev.score AS DECIMAL(18, 6)), 1) AS DOUBLE) AS score_change
    FROM ranked cur
    LEFT JOIN ranked prev
      ON prev.organization_id = cur.organization_id
     AND prev.company_id = cur.company_id
     AND prev.recency = 2
    JOIN latest l
      ON l.organization_id = cur.organization_id
     AND l.snapshot_at = cur.snapshot_at
    WHERE cur.recency = 1
)
SELECT
    x.organization_id,
    x.company_id,
    c.name AS company_name,
    c.domain AS company_domain,
    x.score,
    x.tier,
    x.signals,
    x.last_signal_at,
    x.snapshot_at,
    x.previous_score,
    x.previous_tier,
    x.previous_snapshot_at,
    x.score_change,
    CASE
        WHEN x.score_change IS NULL OR abs(x.score_change) < {{ s.stable_band }} THEN 'STABLE'
        WHEN x.score_change > 0 THEN 'RISING'
        ELSE 'FALLING'
    END AS trend
FROM compared x
LEFT JOIN {{ source('core', 'companies') }} c
  ON c.organization_id = x.organization_id
 AND c.company_id = x.company_id
