{{ config(materialized='table') }}
-- Accounts whose tier changed between two consecutive snapshots of their own score history, per
-- organization, UTC day or ISO week (Monday) of the later snapshot, and (from_tier, to_tier).
WITH history AS (
    SELECT
        organization_id,
        company_id,
        snapshot_at,
        tier AS to_tier,
        lag(tier) OVER (PARTITION BY organization_id, company_id ORDER BY snapshot_at) AS from_tier
    FROM {{ ref('account_score_history') }}
    WHERE snapshot_at <= {{ as_of() }}
),
moves AS (
    SELECT organization_id, company_id, snapshot_at, from_tier, to_tier
    FROM history
    WHERE from_tier IS NOT NULL AND from_tier <> to_tier
),
periods AS (
    SELECT organization_id, company_id, 'day' AS period, CAST(snapshot_at AS DATE) AS period_start,
           from_tier, to_tier
    FROM moves
    UNION ALL
    SELECT organization_id, company_id, 'week' AS period,
           CAST(date_trunc('week', CAST(snapshot_at AS DATE)) AS DATE) AS period_start, from_tier, to_tier
    FROM moves
)
SELECT
    organization_id,
    period,
    period_start,
    from_tier,
    to_tier,
    CASE
        WHEN (CASE to_tier WHEN 'HOT' THEN 3 WHEN 'WARM' THEN 2 ELSE 1 END)
           > (CASE from_tier WHEN 'HOT' THEN 3 WHEN 'WARM' THEN 2 ELSE 1 END)
        THEN 'upgrade'
        ELSE 'downgrade'
    END AS direction,
    CAST(count(DISTINCT company_id) AS BIGINT) AS accounts,
    CAST(count(*) AS BIGINT) AS moves
FROM periods
GROUP BY organization_id, period, period_start, from_tier, to_tier
