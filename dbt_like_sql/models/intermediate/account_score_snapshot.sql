{{ config(materialized='table') }}
{% set s = var('scoring') %}
-- Every account's score as of the run: decayed, weighted signal points -> 0-100 -> tier.
-- Signals that occurred at or before the as-of time count (earlier days from the daily aggregate,
-- the as-of day itself from core.signals up to the as-of time); a signal's age is whole days from
-- its UTC day to the as-of date (0 for the as-of day itself).
WITH as_of AS (
    SELECT {{ as_of() }} AS snapshot_at, CAST({{ as_of() }} AS DATE) AS as_of_day
),
daily AS (
    SELECT
        d.organization_id,
        d.company_id,
        d.signal_type,
        d.signals,
        d.last_occurred_at,
        CAST(a.as_of_day - d.day AS BIGINT) AS age_days
    FROM {{ ref('daily_account_signals') }} d
    CROSS JOIN as_of a
    WHERE d.company_id IS NOT NULL
      AND d.day < a.as_of_day
    UNION ALL
    SELECT
        s.organization_id,
        s.company_id,
        s.signal_type,
        CAST(count(*) AS BIGINT) AS signals,
        max(s.occurred_at) AS last_occurred_at,
        CAST(0 AS BIGINT) AS age_days
    FROM {{ source('core', 'signals') }} s
    WHERE s.company_id IS NOT NULL
      AND s.occurred_at >= CAST(CAST({{ as_of() }} AS DATE) AS TIMESTAMPTZ)
      AND s.occurred_at <= {{ as_of() }}
    GROUP BY s.organization_id, s.company_id, s.signal_type
),
points AS (
    SELECT
        organization_id,
        company_id,
        sum(
            CASE WHEN age_days <= {{ s.lookback_days }} THEN
                signals
                * CASE signal_type
                  {% for signal_type, weight in s.weights.items() %}
                    WHEN '{{ signal_type }}' THEN {{ weight }}
                  {% endfor %}
                    ELSE {{ s.default_weight }}
                  END
                * power(0.5, CAST(age_days AS DOUBLE) / {{ s.half_life_days }})
            ELSE 0 END
        ) AS raw_points,
        sum(CASE WHEN age_days <= {{ s.lookback_days }} THEN signals ELSE 0 END) AS signals,
        max(last_occurred_at) AS last_signal_at
    FROM daily
    GROUP BY organization_id, company_id
),
scored AS (
    SELECT
        p.*,
        -- Through NUMERIC: PostgreSQL has no round(double precision, int); both engines round half away from zero.
        CAST(round(CAST(100 * (1 - exp(-p.raw_points / {{ s.saturation }})) AS DECIMAL(18, 6)), 1) AS DOUBLE) AS score
    FROM points p
)
SELECT
    s.organization_id,
    s.company_id,
    a.snapshot_at,
    s.score,
    CASE
        WHEN s.score >= {{ s.tiers.hot }} THEN 'HOT'
        WHEN s.score >= {{ s.tiers.warm }} THEN 'WARM'
        ELSE 'COLD'
    END AS tier,
    CAST(s.signals AS BIGINT) AS signals,
    s.last_signal_at,
    -- To 6 decimals: a parallel float sum's last digits depend on its order; re-runs must match.
    CAST(round(CAST(s.raw_points AS DECIMAL(18, 6)), 6) AS DOUBLE) AS raw_points
FROM scored s
CROSS JOIN as_of a
