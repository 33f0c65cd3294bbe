"""A tiny dbt_like_sql project and its inputs, for the model-layer tests."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)

DAILY = """\
{{ config(materialized='incremental', unique_key=['organization_id', 'day']) }}
SELECT organization_id, CAST(occurred_at AS DATE) AS day, signal_type, count(*) AS signals,
       max(ingested_at) AS max_ingested_at
FROM {{ source('core', 'signals') }}
WHERE occurred_at <= {{ as_of() }}
{% if is_incremental() %}
  AND CAST(occurred_at AS DATE) >= (
      SELECT coalesce(min(CAST(s.occurred_at AS DATE)), DATE '9999-12-31')
      FROM {{ source('core', 'signals') }} s
      WHERE s.ingested_at > (SELECT max(max_ingested_at) FROM {{ this }}))
{% endif %}
GROUP BY ALL
"""
TOTALS = """\
{{ config(materialized='table') }}
SELECT organization_id, signal_type, CAST(sum(signals) AS BIGINT) AS signals,
       {{ var('label') }} AS label
FROM {{ ref('daily') }}
GROUP BY organization_id, signal_type
"""
TOTALS_VIEW = """\
{{ config(materialized='view') }}
SELECT organization_id, sum(signals) AS signals FROM {{ ref('totals') }} GROUP BY organization_id
"""
SCHEMA = """\
version: 2
models:
  - name: totals
    description: Signals per type.
    columns:
      - name: organization_id
        description: Tenant.
        data_type: text
        tests: [not_null]
      - name: signal_type
        description: Type.
        data_type: text
        tests:
          - accepted_values: {values: [github_star, docs_view]}
      - name: signals
        description: Count.
        data_type: bigint
      - name: label
        description: From project vars.
        data_type: text
    tests:
      - unique_combination_of_columns: {combination_of_columns: [organization_id, signal_type]}
"""


def write_project(root: Path, models: dict[str, str], schema: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project.yml").write_text("vars:\n  label: \"'v1'\"\n")
    for relative, sql in models.items():
        path = root / "models" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(sql))
    if schema:
        (root / "models" / "analytics" / "schema.yml").write_text(schema)
    return root


def signals_frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["signal_id", "organization_id", "signal_type", "occurred_at", "ingested_at"]
    )
    frame["source"] = "product"
    for column in ("occurred_at", "ingested_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def load_signals(warehouse: Warehouse, frame: pd.DataFrame) -> None:
    with warehouse.transaction() as tx:
        tx.merge(CORE_SIGNALS, frame)


FIRST = [
    ("p:1", "acme", "github_star", "2026-11-01T10:00Z", "2026-11-01T11:00Z"),
    ("p:2", "acme", "docs_view", "2026-11-02T10:00Z", "2026-11-02T11:00Z"),
    ("p:3", "beta", "github_star", "2026-11-02T12:00Z", "2026-11-02T13:00Z"),
]
