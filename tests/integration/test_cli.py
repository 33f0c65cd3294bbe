"""`devsignal` commands as an operator types them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from devsignal_pipelines.cli.main import main

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@DUCKDB_ONLY
def test_organization_lifecycle_never_shows_a_secret(stores, monkeypatch) -> None:
    monkeypatch.setenv("ACME_X_TOKEN", "super-secret-token")
    assert "created" in _run("orgs", "add", "acme").output
    assert "already exists" in _run("orgs", "add", "acme").output
    out = _run(
        "orgs",
        "connect",
        "acme",
        "twitter",
        "--keywords",
        "acmedb, acme db",
        "--token-env",
        "ACME_X_TOKEN",
    ).output
    assert "['acmedb', 'acme db']" in out
    listing = _run("orgs", "list").output
    assert "twitter[acmedb,acme db] secret from $ACME_X_TOKEN" in listing
    assert "super-secret-token" not in out + listing
    assert "disconnected from twitter" in _run("orgs", "disconnect", "acme", "twitter").output
    assert "(no connectors)" in _run("orgs", "list").output


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["orgs", "add", "Bad Name"], "is not valid"),
        (
            ["orgs", "connect", "ghost", "twitter", "--keywords", "x", "--token-env", "T"],
            "does not exist",
        ),
        (
            ["orgs", "connect", "acme", "twitter", "--keywords", "x", "--token-env", "abc-123!"],
            "environment variable name",
        ),
        (
            ["orgs", "connect", "acme", "twitter", "--keywords", " , ", "--token-env", "T"],
            "no keywords",
        ),
        (
            [
                "orgs",
                "connect",
                "acme",
                "twitter",
                "--keywords",
                "acmedb,lang:en",
                "--token-env",
                "T",
            ],
            "'lang:en' is X search syntax",
        ),
        (["sync", "ghost"], "has no enabled connector"),
    ],
)
def test_bad_input_gets_a_clear_error(stores, args, message) -> None:
    _run("orgs", "add", "acme")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_classify_reads_lines_and_prints_json() -> None:
    result = _run(
        "classify", input="I love AcmeDB, migrations are so fast!\nwhy does acmedb keep crashing?\n"
    )
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["sentiment"] for r in rows] == ["positive", "negative"]
    assert [r["type"] for r in rows] == ["praise", "complaint"]
    assert all(-1 <= r["score"] <= 1 for r in rows)


def test_sql_list_and_compile_for_both_dialects() -> None:
    listed = CliRunner().invoke(main, ["sql", "list"])
    assert listed.exit_code == 0
    assert "core.account_scores" in listed.output
    assert "analytics.signal_funnel" in listed.output
    args = ["sql", "compile", "account_scores", "--as-of", "2026-11-20T00:00:00+00:00"]
    duck = CliRunner().invoke(main, args)
    postgres = CliRunner().invoke(main, [*args, "--dialect", "postgres"])
    assert duck.exit_code == postgres.exit_code == 0
    assert "core.account_score_history" in postgres.output
    assert "2026-11-20 00:00:00+00:00" in postgres.output
    unknown = CliRunner().invoke(main, ["sql", "compile", "no_such_model"])
    assert unknown.exit_code != 0 and "devsignal sql list" in unknown.output
    bad_time = CliRunner().invoke(main, [*args[:3], "--as-of", "yesterday"])
    assert bad_time.exit_code == 2 and "not an ISO 8601 time" in bad_time.output


@DUCKDB_ONLY
def test_an_organization_sets_and_forgets_its_score_threshold(stores, monkeypatch) -> None:
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD", "7")
    _run("orgs", "add", "acme")
    assert "move of 7 points (the default" in _run("webhooks", "score-threshold", "acme").output
    assert (
        "move of 2.5 points (its own)" in _run("webhooks", "score-threshold", "acme", "2.5").output
    )
    assert "move of 2.5 points (its own)" in _run("webhooks", "score-threshold", "acme").output
    forgot = _run("webhooks", "score-threshold", "acme", "--default").output
    assert "move of 7 points (the default" in forgot
    refused = _run("webhooks", "score-threshold", "acme", "--", "-1")
    assert refused.exit_code == 2 and "points >= 0" in refused.output
    unknown = _run("webhooks", "score-threshold", "nope")
    assert unknown.exit_code == 2 and "does not exist" in unknown.output
