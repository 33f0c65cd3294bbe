{{ config(materialized='table') }}
-- X (Twitter) mentions per organization, UTC day and sentiment, with the share of that day's
-- mentions, for days up to and including the as-of date. Read straight from core.signals (the
-- account-level daily aggregate has no sentiment): one filtered scan into a few thousand groups.
WITH mentions AS (
    SELECT
        organization_id,
        CAST(floor(epoch(occurred_at) / 86400) AS INTEGER) AS day_number,
        coalesce(sentiment, 'unclassified') AS sentiment,
        CAST(count(*) AS BIGINT) AS mentions,
        CAST(count(DISTINCT company_id) AS BIGINT) AS accounts
    FROM {{ source('core', 'signals') }}
    WHERE source = 'twitter'
      AND epoch(occurred_at) < (CAST({{ as_of() }} AS DATE) - DATE '1970-01-01' + 1) * 86400
    GROUP BY organization_id, CAST(floor(epoch(occurred_at) / 86400) AS INTEGER),
             coalesce(sentiment, 'unclassified')
)
SELECT
    organization_id,
    CAST(DATE '1970-01-01' + day_number AS DATE) AS day,
    sentiment,
    mentions,
    accounts,
    CAST(mentions AS DOUBLE) / sum(mentions) OVER (PARTITION BY organization_id, day_number) AS share_of_day
FROM mentions
