{{ config(materialized='incremental', unique_key=['snapshot_at'], full_refresh=false) }}
-- One snapshot of every account's score per scoring run (as-of time). Append-only: a full refresh
-- never rebuilds it; re-running with the same as-of time replaces that snapshot (delete+insert on
-- snapshot_at), so a retried run never duplicates rows.
SELECT
    organization_id,
    company_id,
    snapshot_at,
    score,
    tier,
    signals,
    last_signal_at
FROM {{ ref('account_score_snapshot') }}
