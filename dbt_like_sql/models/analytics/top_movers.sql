{{ config(materialized='table') }}
{% set tm = var('top_movers') %}
-- The accounts whose score rose and fell most over each window: the latest snapshot (at or before
-- the as-of time) against the latest snapshot at or before latest - window_days. Only accounts
-- present in both snapshots (real deltas); ties broken by company_id.
WITH history AS (
    SELECT organization_id, company_id, snapshot_at, score, tier
    FROM {{ ref('account_score_history') }}
    WHERE snapshot_at <= {{ as_of() }}
),
snapshots AS (
    SELECT DISTINCT organization_id, snapshot_at FROM history
),
latest AS (
    SELECT organization_id, max(snapshot_at) AS latest_at FROM snapshots GROUP BY organization_id
),
windows AS (
{% for days in tm.windows_days %}
    {{ 'UNION ALL' if not loop.first }} SELECT {{ days }} AS window_days
{% endfor %}
),
baselines AS (
    SELECT l.organization_id, w.window_days, l.latest_at, max(s.snapshot_at) AS baseline_at
    FROM latest l
    CROSS JOIN windows w
    JOIN snapshots s
      ON s.organization_id = l.organization_id
     AND s.snapshot_at <= l.latest_at - w.window_days * INTERVAL 1 DAY
    GROUP BY l.organization_id, w.window_days, l.latest_at
),
deltas AS (
    SELECT
        b.organization_id,
        b.window_days,
        cur.company_id,
        old.score AS score_from,
        cur.score AS score_to,
        old.tier AS tier_from,
        cur.tier AS tier_to,
        b.baseline_at AS from_snapshot_at,
        b.latest_at AS to_snapshot_at,
        CAST(round(CAST(cur.score - old.score AS DECIMAL(18, 6)), 1) AS DOUBLE) AS score_change
    FROM baselines b
    JOIN history cur ON cur.organization_id = b.organization_id AND cur.snapshot_at = b.latest_at
    JOIN history old
      ON old.organization_id = b.organization_id
     AND old.snapshot_at = b.baseline_at
     AND old.company_id = cur.company_id
),
ranked AS (
    SELECT
        d.*,
        CASE WHEN d.score_change > 0 THEN 'rise' ELSE 'fall' END AS direction,
        row_number() OVER (
            PARTITION BY d.organization_id, d.window_days, d.score_change > 0
            ORDER BY abs(d.score_change) DESC, d.company_id
        ) AS rank
    FROM deltas d
    WHERE d.score_change <> 0
)
SELECT
    r.organization_id,
    CAST(r.window_days AS BIGINT) AS window_days,
    r.direction,
    CAST(r.rank AS BIGINT) AS rank,
    r.company_id,
    c.name AS company_name,
    r.score_from,
    r.score_to,
    r.score_change,
    r.tier_from,
    r.tier_to,
    r.from_snapshot_at,
    r.to_snapshot_at
FROM ranked r
LEFT JOIN {{ source('core', 'companies') }} c
  ON c.organization_id = r.organization_id AND c.company_id = r.company_id
WHERE r.rank <= {{ tm.top_n }}
