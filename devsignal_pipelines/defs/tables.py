"""Dagster-side helpers for warehouse tables: UI metadata and the key asset checks."""

from __future__ import annotations

from typing import Any

import dagster as dg

from devsignal_pipelines.lib.stores.tables import TableSpec
from devsignal_pipelines.lib.stores.warehouse import Warehouse

OWNERS = ["team:devsignal-data"]


def asset_spec(
    spec: TableSpec, *, group: str, kinds: set[str], deps: list[Any] | None = None, **kw: Any
) -> dg.AssetSpec:
    """An AssetSpec keyed [schema, table] with the table's description and column schema."""
    return dg.AssetSpec(
        key=dg.AssetKey([spec.schema, spec.name]),
        description=spec.description,
        group_name=group,
        kinds=kinds,
        owners=OWNERS,
        deps=deps or [],
        metadata=definition_metadata(spec),
        **kw,
    )


def definition_metadata(spec: TableSpec) -> dict[str, Any]:
    return {
        "dagster/column_schema": spec.table_schema(),
        "dagster/table_name": spec.qualified_name,
        "primary_key": ", ".join(spec.primary_key),
    }


def partition_row_counts(
    warehouse: Warehouse, spec: TableSpec, organization_id: str
) -> dict[str, Any]:
    rows = warehouse.scalar(
        f"SELECT count(*) FROM {spec.qualified_name} WHERE organization_id = :o",
        {"o": organization_id},
    )
    total = warehouse.scalar(f"SELECT count(*) FROM {spec.qualified_name}")
    return {"dagster/row_count": int(rows), "table_rows_all_organizations": int(total)}


def key_check_specs(spec: TableSpec) -> list[dg.AssetCheckSpec]:
    key = dg.AssetKey([spec.schema, spec.name])
    pk = ", ".join(spec.primary_key)
    return [
        dg.AssetCheckSpec(
            "primary_key_unique",
            asset=key,
            description=f"No two rows share ({pk}) within the organization.",
        ),
        dg.AssetCheckSpec(
            "required_columns_not_null",
            asset=key,
            description="Key and required columns are never NULL: "
            + ", ".join(c.name for c in spec.columns if not c.nullable),
        ),
    ]


def evaluate_key_checks(
    warehouse: Warehouse, spec: TableSpec, organization_id: str
) -> list[dg.AssetCheckResult]:
    key = dg.AssetKey([spec.schema, spec.name])
    pk = ", ".join(spec.primary_key)
    duplicates = int(
        warehouse.scalar(
            f"SELECT count(*) FROM (SELECT {pk} FROM {spec.qualified_name} WHERE organization_id = :o "
            f"GROUP BY {pk} HAVING count(*) > 1) d",
            {"o": organization_id},
        )
    )
    required = [c.name for c in spec.columns if not c.nullable]
    nulls = int(
        warehouse.scalar(
            f"SELECT count(*) FROM {spec.qualified_name} WHERE organization_id = :o AND ("
            + " OR ".join(f"{c} IS NULL" for c in required)
            + ")",
            {"o": organization_id},
        )
    )
    return [
        dg.AssetCheckResult(
            asset_key=key,
            check_name="primary_key_unique",
            passed=duplicates == 0,
            metadata={"duplicate_keys": duplicates},
        ),
        dg.AssetCheckResult(
            asset_key=key,
            check_name="required_columns_not_null",
            passed=nulls == 0,
            metadata={"rows_with_nulls": nulls},
        ),
    ]
