"""The shared Dagster instance home under DEVSIGNAL_HOME."""

from __future__ import annotations

import os

from devsignal_pipelines.instance import ensure_dagster_home
from devsignal_pipelines.settings import load_settings


def test_dagster_yaml_follows_the_warehouse_kind_until_the_operator_owns_it(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("DEVSIGNAL_HOME", str(tmp_path))
    monkeypatch.delenv("DEVSIGNAL_WAREHOUSE_URL", raising=False)
    settings = ensure_dagster_home(load_settings())
    config = settings.dagster_home / "dagster.yaml"
    assert os.environ["DAGSTER_HOME"] == str(settings.dagster_home)
    assert "default_limit: 1\n" in config.read_text()

    monkeypatch.setenv("DEVSIGNAL_WAREHOUSE_URL", "postgresql://postgres@127.0.0.1/x")
    ensure_dagster_home(load_settings())
    assert "default_limit: 1000" in config.read_text()

    config.write_text("telemetry:\n  enabled: true\n")
    ensure_dagster_home(load_settings())
    assert config.read_text() == "telemetry:\n  enabled: true\n"
