{#- PostgreSQL estimates each chained step CTE at a handful of rows and picks nested loops
    (minutes at 1M signals); hash joins take seconds. -#}
{{ config(materialized='table', postgres_settings={'enable_nestloop': 'off'}) }}
{% set window_days = var('funnel_window_days') %}
{% set funnels = var('funnels') %}
-- Account-level funnels (stages in project.yml `funnels`). An account enters with its first-ever
-- signal of stage 1; it reaches stage k+1 with its first stage-(k+1) signal at or after the time it
-- reached stage k and at most funnel_window_days after its entry. Any contact of the account counts;
-- other signals may come between steps. Signals after the as-of time do not exist for this model.
WITH signals AS (
    SELECT organization_id, company_id, signal_type, occurred_at
    FROM {{ source('core', 'signals') }}
    WHERE company_id IS NOT NULL
      AND occurred_at <= {{ as_of() }}
),
{% for funnel, stages in funnels.items() %}
{% for stage in stages %}
{{ funnel }}_step_{{ loop.index }} AS (
{% if loop.first %}
    SELECT
        organization_id,
        company_id,
        min(occurred_at) AS entered_at,
        min(occurred_at) AS reached_at,
        CAST(NULL AS TIMESTAMPTZ) AS previous_at
    FROM signals
    WHERE signal_type = '{{ stage }}'
    GROUP BY organization_id, company_id
{% else %}
    SELECT
        p.organization_id,
        p.company_id,
        p.entered_at,
        min(s.occurred_at) AS reached_at,
        p.reached_at AS previous_at
    FROM {{ funnel }}_step_{{ loop.index - 1 }} p
    JOIN signals s
      ON s.organization_id = p.organization_id
     AND s.company_id = p.company_id
     AND s.signal_type = '{{ stage }}'
     AND s.occurred_at >= p.reached_at
     AND s.occurred_at <= p.entered_at + INTERVAL {{ window_days }} DAY
    GROUP BY p.organization_id, p.company_id, p.entered_at, p.reached_at
{% endif %}
),
{% endfor %}
{% endfor %}
steps AS (
    SELECT * FROM (VALUES
    {% for funnel, stages in funnels.items() %}
      {% set outer_last = loop.last %}
      {% for stage in stages %}
        ('{{ funnel }}', {{ loop.index }}, '{{ stage }}', {{ 'TRUE' if loop.last else 'FALSE' }}){{ '' if outer_last and loop.last else ',' }}
      {% endfor %}
    {% endfor %}
    ) AS v(funnel, step_order, stage, is_last)
),
reached AS (
{% for funnel, stages in funnels.items() %}
  {% set outer_first = loop.first %}
  {% for stage in stages %}
    {{ '' if outer_first and loop.first else 'UNION ALL' }}
    SELECT '{{ funnel }}' AS funnel, {{ loop.index }} AS step_order, organization_id, company_id,
           entered_at, reached_at, previous_at
    FROM {{ funnel }}_step_{{ loop.index }}
  {% endfor %}
{% endfor %}
),
per_account AS (
    SELECT
        r.*,
        n.company_id IS NOT NULL AS reached_next,
        r.entered_at + INTERVAL {{ window_days }} DAY > {{ as_of() }} AS window_open
    FROM reached r
    LEFT JOIN reached n
      ON n.funnel = r.funnel
     AND n.organization_id = r.organization_id
     AND n.company_id = r.company_id
     AND n.step_order = r.step_order + 1
),
per_step AS (
    SELECT
        organization_id,
        funnel,
        step_order,
        count(*) AS accounts,
        median(epoch(reached_at) - epoch(previous_at)) / 3600.0 AS median_hours_from_previous,
        count(*) FILTER (WHERE NOT reached_next AND window_open) AS in_progress,
        count(*) FILTER (WHERE NOT reached_next AND NOT window_open) AS dropped
    FROM per_account
    GROUP BY organization_id, funnel, step_order
),
entrants AS (
    SELECT organization_id, funnel, accounts FROM per_step WHERE step_order = 1
)
SELECT
    e.organization_id,
    st.funnel,
    CAST(st.step_order AS BIGINT) AS step_order,
    st.stage,
    CAST(coalesce(cur.accounts, 0) AS BIGINT) AS accounts,
    CAST(coalesce(cur.accounts, 0) AS DOUBLE) / e.accounts AS conversion_from_first,
    CASE WHEN st.step_order = 1 THEN 1.0
         ELSE CAST(coalesce(cur.accounts, 0) AS DOUBLE) / nullif(prev.accounts, 0)
    END AS conversion_from_previous,
    CAST(cur.median_hours_from_previous AS DOUBLE) AS median_hours_from_previous,
    CASE WHEN st.is_last THEN NULL ELSE CAST(coalesce(cur.in_progress, 0) AS BIGINT) END AS in_progress,
    CASE WHEN st.is_last THEN NULL ELSE CAST(coalesce(cur.dropped, 0) AS BIGINT) END AS dropped
FROM entrants e
JOIN steps st ON st.funnel = e.funnel
LEFT JOIN per_step cur
  ON cur.organization_id = e.organization_id AND cur.funnel = st.funnel AND cur.step_order = st.step_order
LEFT JOIN per_step prev
  ON prev.organization_id = e.organization_id AND prev.funnel = st.funnel AND prev.step_order = st.step_order - 1
