{{ config(materialized='incremental', unique_key=['organization_id', 'day']) }}
-- Signals per organization, account, UTC day, source and type: the aggregate the scores, trends
-- and cohorts read instead of core.signals. Incremental runs recompute, per organization, every
-- day from the earliest day touched by signals ingested after the table's watermark
-- (max(max_ingested_at)); delete+insert on (organization_id, day) replaces those days whole.
-- The UTC day is bucketed as an integer day number (floor(epoch / 86400)): far cheaper than a
-- timestamptz -> date cast on every signal, and exactly the same day.
{% if is_incremental() %}
WITH watermark AS (
    SELECT organization_id, max(max_ingested_at) AS ingested_until
    FROM {{ this }}
    GROUP BY organization_id
),
changed AS (
    SELECT s.organization_id, min(floor(epoch(s.occurred_at) / 86400)) * 86400 AS from_epoch
    FROM {{ source('core', 'signals') }} s
    LEFT JOIN watermark w ON w.organization_id = s.organization_id
    WHERE w.ingested_until IS NULL OR s.ingested_at > w.ingested_until
    GROUP BY s.organization_id
),
{% else %}
WITH
{% endif %}
grouped AS (
    SELECT
        s.organization_id,
        s.company_id,
        CAST(floor(epoch(s.occurred_at) / 86400) AS INTEGER) AS day_number,
        s.source,
        s.signal_type,
        count(*) AS signals,
        max(s.occurred_at) AS last_occurred_at,
        max(s.ingested_at) AS max_ingested_at
    FROM {{ source('core', 'signals') }} s
{% if is_incremental() %}
    JOIN changed c
      ON c.organization_id = s.organization_id
     AND epoch(s.occurred_at) >= c.from_epoch
{% endif %}
    GROUP BY s.organization_id, s.company_id, CAST(floor(epoch(s.occurred_at) / 86400) AS INTEGER), s.source, s.signal_type
)
SELECT
    organization_id,
    company_id,
    CAST(DATE '1970-01-01' + day_number AS DATE) AS day,
    source,
    signal_type,
    CAST(signals AS BIGINT) AS signals,
    last_occurred_at,
    max_ingested_at
FROM grouped
