{{ config(materialized='table') }}
-- X (Twitter) mentions per organization, UTC day and sentiment, with the share of that day's
-- mentions, for days up to and including the as-of date.
WITH mentions AS (
    SELECT
        organization_id,
        day,
        coalesce(sentiment, 'unclassified') AS sentiment,
        CAST(sum(signals) AS BIGINT) AS mentions,
        CAST(count(DISTINCT company_id) AS BIGINT) AS accounts
    FROM {{ ref('daily_account_signals') }}
    WHERE source = 'twitter'
      AND day <= CAST({{ as_of() }} AS DATE)
    GROUP BY organization_id, day, coalesce(sentiment, 'unclassified')
)
SELECT
    organization_id,
    day,
    sentiment,
    mentions,
    accounts,
    CAST(mentions AS DOUBLE) / sum(mentions) OVER (PARTITION BY organization_id, day) AS share_of_day
FROM mentions
