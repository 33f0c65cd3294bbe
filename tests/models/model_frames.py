"""Read a model's table and compare it with another frame row by row, typed by its schema.yml."""

from __future__ import annotations

import pandas as pd

from devsignal_pipelines.lib.sql_models import Model, Project
from devsignal_pipelines.lib.stores.warehouse import Warehouse


def key_columns(model: Model) -> list[str]:
    for test in model.tests:
        if isinstance(test, dict) and "unique_combination_of_columns" in test:
            return list(test["unique_combination_of_columns"]["combination_of_columns"])
    return [c.name for c in model.columns]


def normalize(frame: pd.DataFrame, model: Model) -> pd.DataFrame:
    """The documented columns, in order, with one representation per type, sorted by the key."""
    out = {}
    for column in model.columns:
        values = frame[column.name]
        if column.data_type in ("bigint", "double"):
            out[column.name] = pd.to_numeric(
                values.astype(object).where(values.notna(), None)
            ).astype("float64")
        elif column.data_type == "date":
            out[column.name] = pd.to_datetime(values).dt.tz_localize(None).dt.normalize()
        elif column.data_type == "timestamptz":
            out[column.name] = pd.to_datetime(values, utc=True).dt.as_unit("us")
        elif column.data_type == "boolean":
            out[column.name] = (
                values.astype(object)
                .where(values.notna(), None)
                .map(lambda v: None if v is None else bool(v))
            )
        else:
            out[column.name] = values.astype(object).where(values.notna(), None)
    normalized = pd.DataFrame(out)
    return normalized.sort_values(key_columns(model), na_position="last").reset_index(drop=True)


def read_model(warehouse: Warehouse, project: Project, name: str) -> pd.DataFrame:
    model = project.model(name)
    return normalize(warehouse.read_df(f"SELECT * FROM {model.relation}"), model)


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame, label: str) -> None:
    assert len(actual) == len(expected), f"{label}: {len(actual)} rows, expected {len(expected)}"
    pd.testing.assert_frame_equal(
        actual, expected, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-6, obj=label
    )
