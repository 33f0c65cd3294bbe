{{ config(materialized='table') }}
-- Signals and distinct accounts per organization, signal type and source, by UTC day and by
-- ISO week (Monday start), for signals on days up to and including the as-of date.
WITH daily AS (
    SELECT organization_id, company_id, day, source, signal_type, signals
    FROM {{ ref('daily_account_signals') }}
    WHERE day <= CAST({{ as_of() }} AS DATE)
),
periods AS (
    SELECT organization_id, company_id, 'day' AS period, day AS period_start, source, signal_type, signals
    FROM daily
    UNION ALL
    SELECT organization_id, company_id, 'week' AS period, CAST(date_trunc('week', day) AS DATE) AS period_start,
           source, signal_type, signals
    FROM daily
)
SELECT
    organization_id,
    period,
    period_start,
    source,
    signal_type,
    CAST(sum(signals) AS BIGINT) AS signals,
    CAST(count(DISTINCT company_id) AS BIGINT) AS accounts
FROM periods
GROUP BY organization_id, period, period_start, source, signal_type
