{{ config(materialized='incremental', unique_key=['organization_id', 'day']) }}
-- Signals per organization, account, UTC day, source, type and sentiment: the small aggregate the
-- scores and analytics read instead of core.signals. Incremental runs recompute, per organization,
-- every day from the earliest day touched by signals ingested after the table's watermark
-- (max(max_ingested_at)); delete+insert on (organization_id, day) replaces those days whole.
{% if is_incremental() %}
WITH watermark AS (
    SELECT organization_id, max(max_ingested_at) AS ingested_until
    FROM {{ this }}
    GROUP BY organization_id
),
changed AS (
    SELECT s.organization_id, min(CAST(s.occurred_at AS DATE)) AS from_day
    FROM {{ source('core', 'signals') }} s
    LEFT JOIN watermark w ON w.organization_id = s.organization_id
    WHERE w.ingested_until IS NULL OR s.ingested_at > w.ingested_until
    GROUP BY s.organization_id
)
{% endif %}
SELECT
    s.organization_id,
    s.company_id,
    CAST(s.occurred_at AS DATE) AS day,
    s.source,
    s.signal_type,
    s.sentiment,
    CAST(count(*) AS BIGINT) AS signals,
    max(s.occurred_at) AS last_occurred_at,
    max(s.ingested_at) AS max_ingested_at
FROM {{ source('core', 'signals') }} s
{% if is_incremental() %}
JOIN changed c
  ON c.organization_id = s.organization_id
 AND CAST(s.occurred_at AS DATE) >= c.from_day
{% endif %}
GROUP BY s.organization_id, s.company_id, CAST(s.occurred_at AS DATE), s.source, s.signal_type, s.sentiment
