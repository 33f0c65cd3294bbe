{{ config(materialized='table') }}
-- Accounts cohorted by the week (Monday start) and by the month of their first-ever signal; for
-- each period offset N from the cohort's period up to the as-of period: accounts with at least one
-- signal in period N, their share of the cohort, and the cohort's signals in period N.
WITH RECURSIVE activity AS (
    SELECT organization_id, company_id, day, signals
    FROM {{ ref('daily_account_signals') }}
    WHERE company_id IS NOT NULL
      AND day <= CAST({{ as_of() }} AS DATE)
),
account_week_months AS (
    -- One pass over the days: per account, week and month (a week across two months is two rows).
    SELECT organization_id, company_id,
           CAST(date_trunc('week', day) AS DATE) AS week_start,
           CAST(date_trunc('month', day) AS DATE) AS month_start,
           sum(signals) AS signals
    FROM activity
    GROUP BY organization_id, company_id, CAST(date_trunc('week', day) AS DATE),
             CAST(date_trunc('month', day) AS DATE)
),
account_periods AS (
    -- One row per account and week / month it was active in.
    SELECT organization_id, company_id, 'week' AS cohort_grain, week_start AS period_start,
           sum(signals) AS signals
    FROM account_week_months
    GROUP BY organization_id, company_id, week_start
    UNION ALL
    SELECT organization_id, company_id, 'month' AS cohort_grain, month_start AS period_start,
           sum(signals) AS signals
    FROM account_week_months
    GROUP BY organization_id, company_id, month_start
),
periods AS (
    -- Each active period with the account's cohort (its first active period) alongside.
    SELECT
        organization_id,
        company_id,
        cohort_grain,
        period_start,
        signals,
        min(period_start) OVER (PARTITION BY organization_id, company_id, cohort_grain) AS cohort_start
    FROM account_periods
),
members AS (
    SELECT organization_id, company_id, cohort_grain, cohort_start
    FROM periods
    WHERE period_start = cohort_start
),
cohorts AS (
    SELECT
        m.organization_id,
        m.cohort_grain,
        m.cohort_start,
        CAST(count(*) AS BIGINT) AS cohort_size,
        CAST(CASE m.cohort_grain
            WHEN 'week' THEN (CAST(date_trunc('week', CAST({{ as_of() }} AS DATE)) AS DATE) - m.cohort_start) / 7
            ELSE 12 * (extract(year FROM CAST({{ as_of() }} AS DATE)) - extract(year FROM m.cohort_start))
                 + extract(month FROM CAST({{ as_of() }} AS DATE)) - extract(month FROM m.cohort_start)
        END AS BIGINT) AS as_of_offset
    FROM members m
    GROUP BY m.organization_id, m.cohort_grain, m.cohort_start
),
active AS (
    SELECT
        p.organization_id,
        p.cohort_grain,
        p.cohort_start,
        CAST(CASE p.cohort_grain
            WHEN 'week' THEN (p.period_start - p.cohort_start) / 7
            ELSE 12 * (extract(year FROM p.period_start) - extract(year FROM p.cohort_start))
                 + extract(month FROM p.period_start) - extract(month FROM p.cohort_start)
        END AS BIGINT) AS period_offset,
        CAST(count(*) AS BIGINT) AS active_accounts,
        CAST(sum(p.signals) AS BIGINT) AS signals
    FROM periods p
    GROUP BY p.organization_id, p.cohort_grain, p.cohort_start, p.period_start
),
offsets AS (
    -- 0 .. the largest offset any cohort can reach (every period up to the as-of period gets a row).
    SELECT 0 AS n
    UNION ALL
    SELECT n + 1 FROM offsets WHERE n < (SELECT max(as_of_offset) FROM cohorts)
)
SELECT
    c.organization_id,
    c.cohort_grain,
    c.cohort_start,
    CAST(o.n AS BIGINT) AS period_offset,
    CASE c.cohort_grain
        WHEN 'week' THEN CAST(c.cohort_start + 7 * o.n AS DATE)
        ELSE CAST(c.cohort_start + o.n * INTERVAL 1 MONTH AS DATE)
    END AS period_start,
    c.cohort_size,
    CAST(coalesce(a.active_accounts, 0) AS BIGINT) AS active_accounts,
    CAST(coalesce(a.active_accounts, 0) AS DOUBLE) / c.cohort_size AS retention,
    CAST(coalesce(a.signals, 0) AS BIGINT) AS signals,
    o.n = c.as_of_offset AS is_incomplete
FROM cohorts c
JOIN offsets o ON o.n <= c.as_of_offset
LEFT JOIN active a
  ON a.organization_id = c.organization_id
 AND a.cohort_grain = c.cohort_grain
 AND a.cohort_start = c.cohort_start
 AND a.period_offset = o.n
