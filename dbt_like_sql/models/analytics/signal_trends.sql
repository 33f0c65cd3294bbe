{{ config(materialized='table') }}
-- Signals and distinct accounts per organization, signal type and source, by UTC day and by
-- ISO week (Monday start), for signals on days up to and including the as-of date.
-- daily_account_signals has one row per (account, day, source, type), so a day's accounts are a
-- plain count of its rows; a week's are a count(DISTINCT) over the few (type, source, week) groups
-- (cheaper in DuckDB than grouping per account and week first).
WITH daily AS (
    SELECT organization_id, company_id, day, source, signal_type, signals
    FROM {{ ref('daily_account_signals') }}
    WHERE day <= CAST({{ as_of() }} AS DATE)
)
SELECT
    organization_id,
    'day' AS period,
    day AS period_start,
    source,
    signal_type,
    CAST(sum(signals) AS BIGINT) AS signals,
    CAST(count(company_id) AS BIGINT) AS accounts
FROM daily
GROUP BY organization_id, day, source, signal_type
UNION ALL
SELECT
    organization_id,
    'week' AS period,
    CAST(date_trunc('week', day) AS DATE) AS period_start,
    source,
    signal_type,
    CAST(sum(signals) AS BIGINT) AS signals,
    CAST(count(DISTINCT company_id) AS BIGINT) AS accounts
FROM daily
GROUP BY organization_id, CAST(date_trunc('week', day) AS DATE), source, signal_type
