"""Connector credentials given on standard input: stored Fernet-encrypted, preferred over the
variable, never shown, rotated with DEVSIGNAL_SECRET_KEY like webhook secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet

from devsignal_pipelines.cli.main import main
from devsignal_pipelines.defs.resources import MissingSecretError, lookup_secret, read_secret
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.secrets import decrypt_secret
from devsignal_pipelines.lib.webhooks.settings import load_webhook_settings

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
TOKEN = "s3cret-Token_0123456789%2Fabc"


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", key)
    return key


@pytest.fixture
def control(stores: dict[str, str]) -> ControlDB:
    db = ControlDB(stores["control"])
    db.create_all()
    db.add_organization("acme")
    return db


def _run(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), input=input)
    assert result.exit_code == code, result.output
    return result.output


def _stored(control: ControlDB) -> list[tuple]:
    t = c.connector_secrets
    with control.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(sa.select(t.c.organization_id, t.c.source, t.c.secret_encrypted))
        ]


def test_a_token_read_from_stdin_is_stored_encrypted_and_never_shown(
    stores, control, secret_key, tmp_path: Path
) -> None:
    out = _run("orgs", "connect", "acme", "twitter", "--keywords", "acmedb", "--token-stdin",
               input=f"  {TOKEN}\n")  # fmt: skip
    assert "acme connected to twitter" in out and "secret stored encrypted" in out
    listing = _run("orgs", "list")
    assert "twitter[acmedb] secret stored encrypted" in listing
    assert TOKEN not in out + listing

    [(org, source, encrypted)] = _stored(control)
    assert (org, source) == ("acme", "twitter") and TOKEN not in encrypted
    assert decrypt_secret(encrypted) == TOKEN
    assert control.connectors(org_id="acme")[0]["secret_env"] is None
    assert lookup_secret("acme", "twitter", None) == (
        TOKEN,
        "<the token stored with --token-stdin>",
    )
    if stores["dialect"] == "duckdb":  # nothing on disk holds it in clear (the WAL included)
        for path in tmp_path.glob("control.db*"):
            assert TOKEN.encode() not in path.read_bytes(), path


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("source", "args", "flag"),
    [
        ("twitter", ["--keywords", "acmedb", "--token-stdin"], "--token-env"),
        ("github", ["--repos", "acme/acmedb", "--token-stdin"], "--token-env"),
        ("stackoverflow", ["--tags", "acmedb", "--key-stdin"], "--key-env"),
        ("enrichment", ["--key-stdin"], "--key-env"),
    ],
)
def test_every_source_with_a_credential_takes_it_on_stdin(
    control, secret_key, source, args, flag
) -> None:
    out = _run("orgs", "connect", "acme", source, *args, input=TOKEN)
    assert "secret stored encrypted" in out and TOKEN not in out
    assert read_secret("acme", source, None, flag) == TOKEN
    kind = "token" if flag == "--token-env" else "key"
    assert lookup_secret("acme", source, None, flag, required=False)[1] == (
        f"<the {kind} stored with {flag.replace('-env', '-stdin')}>"
    )


@DUCKDB_ONLY
def test_the_stored_secret_wins_and_reconnecting_with_a_variable_forgets_it(
    control, secret_key, monkeypatch
) -> None:
    monkeypatch.setenv("ACME_X_TOKEN", "token-from-the-variable")
    _run("orgs", "connect", "acme", "twitter", "--keywords", "acmedb", "--token-stdin", input=TOKEN)
    # A connector naming a variable as well (written by code, not the CLI): the stored one wins.
    control.connect_source("acme", "twitter", {"keywords": ["acmedb"]}, "ACME_X_TOKEN")
    assert read_secret("acme", "twitter", "ACME_X_TOKEN") == TOKEN

    out = _run(
        "orgs", "connect", "acme", "twitter", "--keywords", "acmedb", "--token-env", "ACME_X_TOKEN"
    )
    assert _stored(control) == []
    assert read_secret("acme", "twitter", "ACME_X_TOKEN") == "token-from-the-variable"
    assert "secret from $ACME_X_TOKEN" in out + _run("orgs", "list")

    _run("orgs", "connect", "acme", "github", "--repos", "acme/db", "--token-stdin", input=TOKEN)
    _run("orgs", "connect", "acme", "github", "--repos", "acme/db")  # replaced: no token at all
    assert read_secret("acme", "github", None, required=False) is None

    _run("orgs", "connect", "acme", "twitter", "--keywords", "acmedb", "--token-stdin", input=TOKEN)
    out = _run("orgs", "disconnect", "acme", "twitter")
    assert "disconnected from twitter; its stored secret is deleted" in out
    assert _stored(control) == []


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--token-stdin"], "", "the X bearer token is empty"),
        (["--token-stdin"], " \n\t\n", "the X bearer token is empty"),
        (["--token-stdin"], "first-line\nsecond-line\n", "line breaks"),
        (["--token-stdin", "--token-env", "ACME_X_TOKEN"], TOKEN, "either --token-env VAR_NAME or --token-stdin"),
        (["--key-stdin"], TOKEN, "twitter takes no --key-stdin; use --token-stdin"),
    ],
)  # fmt: skip
def test_stdin_mistakes_are_refused_and_nothing_is_stored(
    control, secret_key, args, stdin, message
) -> None:
    out = _run("orgs", "connect", "acme", "twitter", "--keywords", "acmedb", *args,
               input=stdin, code=2)  # fmt: skip
    assert message in out and TOKEN not in out
    assert _stored(control) == [] and control.connectors(org_id="acme") == []


@DUCKDB_ONLY
def test_a_missing_secret_key_is_named_with_the_fix_when_storing_and_when_reading(
    control, secret_key, monkeypatch
) -> None:
    monkeypatch.delenv("DEVSIGNAL_SECRET_KEY")
    out = _run("orgs", "connect", "acme", "enrichment", "--key-stdin", input=TOKEN, code=2)
    assert "DEVSIGNAL_SECRET_KEY is not set" in out and "Fernet.generate_key" in out
    assert _stored(control) == [] and control.connectors(org_id="acme") == []
    assert "events takes no --token-stdin" in _run(
        "orgs", "connect", "acme", "events", "--token-stdin", input=TOKEN, code=2
    )

    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", secret_key)
    _run("orgs", "connect", "acme", "enrichment", "--key-stdin", input=TOKEN)
    monkeypatch.delenv("DEVSIGNAL_SECRET_KEY")
    with pytest.raises(MissingSecretError) as missing:
        read_secret("acme", "enrichment", None, "--key-env")
    assert "DEVSIGNAL_SECRET_KEY is not set" in missing.value.description
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(MissingSecretError) as changed:
        read_secret("acme", "enrichment", None, "--key-env")
    assert "the stored enrichment credential of organization 'acme'" in changed.value.description
    assert (
        "the key changed" in changed.value.description
        and "--key-stdin" in changed.value.description
    )
    assert TOKEN not in missing.value.description + changed.value.description


@DUCKDB_ONLY
def test_rotation_reencrypts_connector_and_webhook_secrets_with_the_first_key(
    control, secret_key, monkeypatch
) -> None:
    old = secret_key
    _run("orgs", "connect", "acme", "twitter", "--keywords", "acmedb", "--token-stdin", input=TOKEN)
    subscription = store.subscribe(control, "acme", "signal.created", "https://93.184.216.34/h",
                                   load_webhook_settings())  # fmt: skip
    new, stranger = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    # A key that opens nothing: refused, naming what it cannot read, and nothing changes.
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", stranger)
    out = _run("orgs", "rotate-secrets", code=2)
    assert "the stored twitter credential of organization 'acme'" in out
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", old)
    assert read_secret("acme", "twitter", None) == TOKEN

    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", f"{new},{old}")
    out = _run("orgs", "rotate-secrets")
    assert "re-encrypted 1 connector credentials and 1 webhook signing secrets" in out
    assert "the other keys can be removed now" in out and TOKEN not in out

    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", new)  # the old key is gone
    assert read_secret("acme", "twitter", None) == TOKEN
    with control.engine.connect() as conn:
        encrypted = conn.execute(sa.select(c.webhook_subscriptions.c.secret_encrypted)).scalar_one()
    assert decrypt_secret(encrypted) == subscription.secret
    assert "it holds one key" in _run("orgs", "rotate-secrets")
