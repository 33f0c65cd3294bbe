"""A sync whose credentials were given on standard input: Dagster reads them from the control DB
(no variable on the host), the sandbox accepts them, and they appear nowhere a person can read."""

from __future__ import annotations

import json
import logging

import dagster as dg
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from devsignal_pipelines.cli.main import main
from tests.integration.conftest import TOKEN, TOKEN_ENV

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _connect_from_stdin(pipeline, organization_id: str, secret: str) -> list[str]:
    """Re-connect every API source of the organization as an operator would, the credential piped."""
    sources = []
    for connector in pipeline.control.connectors(org_id=organization_id):
        settings, source = connector["settings"], connector["source"]
        args = {
            "twitter": ["--keywords", ",".join(settings.get("keywords", [])), "--token-stdin"],
            "github": ["--repos", ",".join(settings.get("repos", [])),
                       "--members", ",".join(settings.get("members", [])), "--token-stdin"],
            "stackoverflow": ["--tags", ",".join(settings.get("tags", [])), "--key-stdin"],
            "enrichment": ["--key-stdin"],
        }.get(source)  # fmt: skip
        if args is None:
            continue
        result = CliRunner().invoke(
            main, ["orgs", "connect", organization_id, source, *args], input=secret + "\n"
        )
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        sources.append(source)
    return sources


@pytest.fixture
def stored_secret_pipeline(make_pipeline, world, monkeypatch):
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", Fernet.generate_key().decode())
    pipeline = make_pipeline()
    org = world.organizations[0].id
    sources = _connect_from_stdin(pipeline, org, TOKEN)
    assert sorted(sources) == ["enrichment", "github", "stackoverflow", "twitter"]
    monkeypatch.delenv(TOKEN_ENV)  # no host variable: only the stored credentials can work
    return pipeline, org


@DUCKDB_ONLY
def test_a_sync_with_stored_credentials_reaches_every_api_and_never_shows_them(
    stored_secret_pipeline, caplog
) -> None:
    pipeline, org = stored_secret_pipeline
    caplog.set_level(logging.DEBUG)
    outcome = pipeline.sync(org, "all")
    assert outcome.success, outcome.error
    for table in (
        "raw.tweets",
        "raw.so_questions",
        "raw.github_stargazers",
        "raw.enrichment_cache",
    ):
        count = pipeline.warehouse.scalar(
            f"SELECT count(*) FROM {table} WHERE organization_id = :o", {"o": org}
        )
        assert count > 0, table

    # The run's whole event log (messages, metadata, run config), Python's logs, the tables.
    instance = pipeline.instance
    event_log = [dg.serialize_value(entry) for entry in instance.all_logs(outcome.run_id)]
    assert len(event_log) > 20 and any("ASSET_MATERIALIZATION" in e for e in event_log)
    assert TOKEN not in "\n".join(event_log)
    assert TOKEN not in dg.serialize_value(instance.get_run_by_id(outcome.run_id))
    assert TOKEN not in json.dumps(outcome.materializations, default=str)
    assert TOKEN not in caplog.text
    assert "key=[redacted]" in caplog.text  # httpx logs URLs; Stack Exchange's key is in one
    for (table,) in pipeline.warehouse.read_df(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('raw', 'core', 'intermediate', 'analytics')"
    ).itertuples(index=False):
        assert TOKEN not in pipeline.warehouse.read_df(f"SELECT * FROM {table}").to_csv(), table
    with pipeline.control.engine.connect() as conn:
        for name in ("connectors", "connector_secrets", "organizations"):
            assert TOKEN not in str(conn.exec_driver_sql(f"SELECT * FROM {name}").all()), name


@DUCKDB_ONLY
def test_a_refused_stored_token_fails_naming_where_it_is_stored_never_the_token(
    make_pipeline, world, monkeypatch
) -> None:
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", Fernet.generate_key().decode())
    pipeline = make_pipeline()
    org = world.organizations[2].id
    _connect_from_stdin(pipeline, org, "a-token-x-does-not-know")
    outcome = pipeline.sync(org, "twitter")
    assert not outcome.success
    assert f"'{org}'" in outcome.error and "401" in outcome.error
    assert "<the token stored with --token-stdin>" in outcome.error
    assert "a-token-x-does-not-know" not in outcome.error
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.tweets") == 0
