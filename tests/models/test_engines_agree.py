"""DuckDB and PostgreSQL return the same rows for every model over the same inputs."""

from __future__ import annotations

import pytest
from model_frames import assert_same_rows, read_model

from devsignal_pipelines.lib.sql_models import load_project


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(load_project().models))
def test_duckdb_and_postgres_agree(name, duckdb_built, postgres_built, project):
    duck = read_model(duckdb_built, project, name)
    pg = read_model(postgres_built, project, name)
    assert not duck.empty, f"{name} has no rows: the comparison would prove nothing"
    assert_same_rows(pg, duck, f"{name}: PostgreSQL vs DuckDB")
