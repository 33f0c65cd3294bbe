"""`devsignal`: the command line for operators and analysts.

Every command reads its configuration from the DEVSIGNAL_* environment (see README).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

# Every module imported here is light (click, the standard library, settings): `devsignal --help`
# must not pay for Dagster, pandas, SQLAlchemy or sqlglot (seconds). Each command imports what
# it runs; tests/unit/test_cli_imports.py checks it.
from devsignal_pipelines.cli import data as cli_data
from devsignal_pipelines.cli import published as cli_published
from devsignal_pipelines.cli import sql as cli_sql
from devsignal_pipelines.cli import webhooks as cli_webhooks
from devsignal_pipelines.settings import load_settings

if TYPE_CHECKING:
    from devsignal_pipelines.lib.stores.control import ControlDB


def _control() -> ControlDB:
    from devsignal_pipelines.lib.stores.control import ControlDB

    control = ControlDB(load_settings().control_db_url)
    control.create_all()
    return control


_TAG = re.compile(r"^[a-z0-9.#+-]{1,35}$")


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """DevSignal Pipelines: developer signals (X mentions, Stack Overflow, GitHub, your product's
    events and CRM) resolved to enriched, scored accounts."""


# --- organizations -----------------------------------------------------------------------------


@main.group()
def orgs() -> None:
    """Organizations (tenants) and their connectors."""


@orgs.command("add")
@click.argument("name")
@click.option("--display-name", help="Human-readable name (defaults to NAME).")
def orgs_add(name: str, display_name: str | None) -> None:
    """Create organization NAME (a slug: lower-case letters, digits, '-')."""
    from devsignal_pipelines.lib.stores.control import ControlDBError

    try:
        created = _control().add_organization(name, display_name)
    except ControlDBError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"organization {name} {'created' if created else 'already exists'}")


def _connector_summary(connector: dict, stored_secret: bool = False) -> str:
    """'twitter[acmedb,acme db] secret from $ACME_X_TOKEN', 'github[acme/db] secret stored
    encrypted', 'events[2 mapped events]', 'crm'."""
    settings = connector["settings"] or {}
    if connector["source"] in ("events", "crm"):
        mapped = len(settings.get("event_map") or {})
        hosts = ",".join(settings.get("docs_hosts") or [])
        parts = [f"{mapped} mapped events"] if mapped else []
        parts += [f"docs on {hosts}"] if hosts else []
        return connector["source"] + (f"[{'; '.join(parts)}]" if parts else "")
    detail = ",".join(
        settings.get("keywords") or settings.get("tags") or settings.get("repos") or []
    )
    secret = f" secret from ${connector['secret_env']}" if connector["secret_env"] else ""
    if stored_secret:  # wins over a variable (defs/resources.py read_secret)
        secret = " secret stored encrypted"
    return f"{connector['source']}[{detail}]{secret}"


@orgs.command("list")
def orgs_list() -> None:
    """List organizations with their enabled connectors and where each secret comes from (a
    variable's name or "stored encrypted"; never the secret)."""
    from devsignal_pipelines.lib.sources.credentials import stored_credentials

    control = _control()
    organizations = control.list_organizations()
    if not organizations:
        click.echo("no organizations yet; add one with: devsignal orgs add NAME")
        return
    stored = stored_credentials(control)
    connectors: dict[str, list[str]] = {}
    for connector in control.connectors():
        connectors.setdefault(connector["organization_id"], []).append(
            _connector_summary(
                connector, (connector["organization_id"], connector["source"]) in stored
            )
        )
    for org in organizations:
        click.echo(
            f"{org.id}\t{org.name}\t{'; '.join(connectors.get(org.id, [])) or '(no connectors)'}"
        )


_SOURCES = ["twitter", "stackoverflow", "github", "enrichment", "events", "crm"]
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


@orgs.command("connect")
@click.argument("name")
@click.argument("source", type=click.Choice(_SOURCES))
@click.option(
    "--keywords",
    help="twitter: comma-separated words or phrases, e.g. 'acmedb,acme db' (X search syntax "
    "such as lang:en, -word or is:reply is refused).",
)
@click.option(
    "--token-env",
    help="twitter: NAME of the variable holding the X bearer token (read when a run starts; never stored). "
    "github: NAME of the variable holding a GitHub token (optional for public repositories: 60 requests an "
    "hour without one, 5,000 with one).",
)
@click.option(
    "--repos", help="github: comma-separated repositories, e.g. 'acme/acmedb,acme/acme-cli'."
)
@click.option(
    "--members",
    help="github: logins of the organization's own people, whose activity is not a signal (GitHub's "
    "OWNER / MEMBER association and bots are left out anyway).",
)
@click.option(
    "--tags", help="stackoverflow: comma-separated tags to track, e.g. 'acmedb,acmedb-migrations'."
)
@click.option(
    "--key-env",
    help="stackoverflow: NAME of the variable holding a Stack Exchange app key (optional: 10,000 calls a day "
    "instead of 300). enrichment: NAME of the variable holding the enrichment API key (required).",
)
@click.option(
    "--token-stdin",
    is_flag=True,
    help="twitter, github: read the token from standard input (typed without echo, or piped) and store "
    "it encrypted with DEVSIGNAL_SECRET_KEY in the control DB, instead of --token-env.",
)
@click.option(
    "--key-stdin",
    is_flag=True,
    help="stackoverflow, enrichment: read the key from standard input and store it encrypted, instead "
    "of --key-env.",
)
@click.option(
    "--map",
    "event_map",
    help="events: track event names -> signal types, e.g. 'Project Created=feature_usage,Heartbeat=' "
    "(empty: not a signal). Unmapped names use the built-in list, else snake_case (docs/first_party.md).",
)
@click.option(
    "--docs-hosts",
    help="events: hosts whose `page` calls are docs_view signals, e.g. 'docs.acme.dev' "
    "(default: any host starting with 'docs.').",
)
@click.option(
    "--docs-paths",
    help="events: path prefixes whose `page` calls are docs_view signals (default: /docs).",
)
def orgs_connect(
    name: str,
    source: str,
    keywords: str | None,
    token_env: str | None,
    repos: str | None,
    members: str | None,
    tags: str | None,
    key_env: str | None,
    token_stdin: bool,
    key_stdin: bool,
    event_map: str | None,
    docs_hosts: str | None,
    docs_paths: str | None,
) -> None:
    """Connect organization NAME to SOURCE (replaces its previous settings for SOURCE, its secret
    included).

    A secret is either an environment variable named here (--token-env / --key-env, set on every
    host where Dagster runs) or read from standard input and stored encrypted (--token-stdin /
    --key-stdin, needs DEVSIGNAL_SECRET_KEY); it is never printed.

    events and crm are pushed by the organization (`devsignal api`, `devsignal import`) and are
    enabled by the first message or record; connect them to change the event mapping, or to
    re-enable them after a disconnect."""
    from devsignal_pipelines.lib.sources.credentials import delete_credential, store_credential
    from devsignal_pipelines.lib.sources.events.mapping import (
        EventSettings,
        parse_event_map,
        parse_hosts,
        parse_paths,
    )
    from devsignal_pipelines.lib.stores.control import ControlDBError

    _check_secret_options(source, token_env, key_env, token_stdin, key_stdin)
    try:
        if source == "twitter":
            if not keywords or not (token_env or token_stdin):
                raise click.UsageError(
                    "twitter needs --keywords 'a,b' and --token-env VAR_NAME (or --token-stdin)"
                )
            from devsignal_pipelines.lib.sources.twitter.client import build_query  # httpx

            settings, secret_env = {"keywords": _split_list(keywords)}, token_env
            build_query(settings["keywords"])
        elif source == "github":
            repo_list = _split_list(repos or "")
            if not repo_list:
                raise click.UsageError("github needs --repos 'owner/repo,owner/other'")
            bad = [r for r in repo_list if not _REPO.match(r)]
            if bad:
                raise click.UsageError(
                    f"--repos: {', '.join(bad)} not owner/repo (e.g. 'acme/acmedb'); a URL is not needed"
                )
            settings = {"repos": repo_list, "members": _split_list(members or "")}
            secret_env = token_env
        elif source == "enrichment":
            if not (key_env or key_stdin):
                raise click.UsageError(
                    "enrichment needs --key-env VAR_NAME (the variable holding the API key) "
                    "or --key-stdin"
                )
            settings, secret_env = {}, key_env
        elif source == "events":
            current = EventSettings.from_settings(_control().connector_settings(name, "events"))
            settings = EventSettings(
                event_map=parse_event_map(event_map)
                if event_map is not None
                else current.event_map,
                docs_hosts=tuple(parse_hosts(docs_hosts))
                if docs_hosts is not None
                else current.docs_hosts,
                docs_paths=tuple(parse_paths(docs_paths))
                if docs_paths is not None
                else current.docs_paths,
            ).as_settings()
            secret_env = None
        elif source == "crm":
            settings, secret_env = {}, None
        else:
            tag_list = [t.lower() for t in _split_list(tags or "")]
            if not tag_list:
                raise click.UsageError("stackoverflow needs --tags 'tag1,tag2'")
            if any(not _TAG.match(t) for t in tag_list):
                raise click.UsageError(
                    f"tags must look like Stack Overflow tags (e.g. 'python-3.x'), got {tag_list}"
                )
            settings, secret_env = {"tags": tag_list}, key_env
        control = _control()
        if token_stdin or key_stdin:
            # Stored before the connector changes, so no run sees the connector without it.
            store_credential(control, name, source, _read_secret_from_stdin(source, token_stdin))
        control.connect_source(name, source, settings, secret_env)
        if not (token_stdin or key_stdin):
            delete_credential(control, name, source)
    except (ControlDBError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    detail = ", ".join(f"{k} {v}" for k, v in settings.items())
    click.echo(
        f"{name} connected to {source}"
        + (f": {detail}" if detail else "")
        + (f", secret from ${secret_env}" if secret_env else "")
        + (", secret stored encrypted" if token_stdin or key_stdin else "")
    )
    if secret_env and secret_env not in os.environ:
        click.echo(
            f"note: {secret_env} is not set in this shell; set it wherever Dagster runs", err=True
        )


@orgs.command("disconnect")
@click.argument("name")
@click.argument("source", type=click.Choice(_SOURCES))
def orgs_disconnect(name: str, source: str) -> None:
    """Stop syncing SOURCE for NAME (data already in the warehouse stays; a secret stored with
    --token-stdin / --key-stdin is deleted)."""
    from devsignal_pipelines.lib.sources.credentials import delete_credential
    from devsignal_pipelines.lib.stores.control import ControlDBError

    control = _control()
    try:
        changed = control.disconnect_source(name, source)
    except ControlDBError as exc:
        raise click.UsageError(str(exc)) from exc
    forgot = delete_credential(control, name, source)
    click.echo(
        f"{name} {'disconnected from' if changed else 'was not connected to'} {source}"
        + ("; its stored secret is deleted" if forgot else "")
    )


@orgs.command("rotate-secrets")
def orgs_rotate_secrets() -> None:
    """Re-encrypt every stored secret (connector credentials and webhook signing secrets) with the
    first key of DEVSIGNAL_SECRET_KEY.

    To rotate: set DEVSIGNAL_SECRET_KEY=NEW,OLD wherever the CLI, the API and Dagster run, run
    this, then drop OLD. All or nothing: a secret no key can decrypt is named and nothing changes."""
    from devsignal_pipelines.lib.sources.credentials import rotate_stored_secrets
    from devsignal_pipelines.lib.webhooks.secrets import SecretKeyError, secret_key_count

    try:
        keys = secret_key_count()
        credentials, webhook_secrets = rotate_stored_secrets(_control())
    except SecretKeyError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(
        f"re-encrypted {credentials} connector credentials and {webhook_secrets} webhook signing "
        "secrets with the first key of DEVSIGNAL_SECRET_KEY"
        + (
            "; the other keys can be removed now"
            if keys > 1
            else " (it holds one key: to rotate, set it to NEW_KEY,OLD_KEY and run this again)"
        )
    )


_STDIN_FLAGS = {
    "--token-stdin": ("twitter", "github"),
    "--key-stdin": ("stackoverflow", "enrichment"),
}


def _check_secret_options(
    source: str, token_env: str | None, key_env: str | None, token_stdin: bool, key_stdin: bool
) -> None:
    """Refuse a stdin flag the source does not take, or one given with a variable name, before
    anything is read."""
    for flag, given, env, env_flag in (
        ("--token-stdin", token_stdin, token_env, "--token-env"),
        ("--key-stdin", key_stdin, key_env, "--key-env"),
    ):
        if not given:
            continue
        if source not in _STDIN_FLAGS[flag]:
            other = [f for f, sources in _STDIN_FLAGS.items() if source in sources]
            raise click.UsageError(
                f"{source} takes no {flag}"
                + (f"; use {other[0]}" if other else ": it has no secret")
            )
        if env:
            raise click.UsageError(
                f"give either {env_flag} VAR_NAME or {flag}, not both: one place for the secret"
            )


def _read_secret_from_stdin(source: str, token: bool) -> str:
    """The secret from standard input: a hidden prompt on a terminal, else everything piped.
    Never echoed; refused when empty, and before reading when DEVSIGNAL_SECRET_KEY is missing."""
    from devsignal_pipelines.lib.sources.credentials import check_credential_text
    from devsignal_pipelines.lib.webhooks.secrets import SecretKeyError, require_secret_key

    what = {"twitter": "X bearer token", "github": "GitHub token",
            "stackoverflow": "Stack Exchange key", "enrichment": "enrichment API key"}[source]  # fmt: skip
    try:
        require_secret_key()
    except SecretKeyError as exc:
        raise click.UsageError(
            f"--{'token' if token else 'key'}-stdin stores the {what} encrypted: {exc}"
        ) from None
    stdin = click.get_text_stream("stdin")
    if stdin.isatty():
        value = click.prompt(
            f"{what} (not echoed)", hide_input=True, default="", show_default=False
        )
    else:
        value = stdin.read()
    return check_credential_text(value, f"the {what}")


# --- running -----------------------------------------------------------------------------------


@main.command("sync")
@click.argument("organization")
@click.option(
    "--source",
    type=click.Choice([*_SOURCES, "all"]),
    default="all",
    show_default=True,
)
@click.option(
    "--verbose", is_flag=True, help="Print Dagster's event log, with stack traces on failure."
)
def sync(organization: str, source: str, verbose: bool) -> None:
    """Run ORGANIZATION's assets for SOURCE through Dagster now (the same job the schedules run;
    events / crm: load what arrived through the API or `devsignal import`).

    Prints what the run waits for (a pool slot held by another run, rate limits) while it waits;
    frees the slots of runs whose process died; SIGINT / SIGTERM stop it."""
    from devsignal_pipelines.definitions import defs
    from devsignal_pipelines.instance import get_instance
    from devsignal_pipelines.runner import run_organization

    if not _control().connectors(org_id=organization):
        raise click.UsageError(
            f"organization {organization!r} has no enabled connector; see `devsignal orgs list`"
        )
    outcome = run_organization(
        defs,
        get_instance(),
        organization,
        source,
        on_event=lambda line: click.echo(f"  {line}"),
        on_wait=lambda line: click.echo(f"  {line}", err=True),
        verbose=verbose,
    )
    if not outcome.success:
        click.echo(f"sync failed for {organization}{outcome.failure_line(verbose)}", err=True)
        sys.exit(outcome.exit_code)
    click.echo(
        f"{organization}: {outcome.job_name} succeeded in {outcome.seconds:.1f}s (run {outcome.run_id})"
    )


@main.command("demo")
@click.option("--seed", default=7, show_default=True, help="World seed for the sandbox.")
@click.option("--scale", default=1.0, show_default=True, help="World size multiplier.")
def demo(seed: int, scale: float) -> None:
    """Run the whole pipeline against the local sandbox API and print what it produced."""
    from devsignal_pipelines.demo.runner import run_demo

    sys.exit(0 if run_demo(seed=seed, scale=scale, echo=click.echo) else 1)


@main.command("dev")
@click.option("--port", default=3000, show_default=True, help="Dagster UI port.")
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Also serve the sandbox API (on port 8765) so scheduled syncs have an X API to talk to.",
)
def dev(port: int, sandbox: bool) -> None:
    """Open the Dagster UI (dagster dev) on the instance the demo and `devsignal sync` use."""
    from devsignal_pipelines.demo.runner import dev_environment

    os.execvpe(
        sys.executable,
        [
            sys.executable,
            # `dg dev` needs a dg project layout this code location does not use; the UI is
            # the same, so the advice to switch is noise here.
            "-W",
            "ignore:Function `dev_command` is superseded:FutureWarning",
            *("-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)),
        ],
        dev_environment(with_sandbox=sandbox),
    )


# --- sandbox -----------------------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """The local API server used by the demo, the tests and the benchmarks."""


@sandbox.command("serve")
@click.option("--port", default=8765, show_default=True)
@click.option(
    "--seed", default=7, show_default=True, help="World seed: the same seed gives the same world."
)
@click.option(
    "--scale", default=1.0, show_default=True, help="World size multiplier (1.0 = ~1,500 posts)."
)
@click.option(
    "--tweets", type=int, help="Exact number of posts to generate (overrides --scale for posts)."
)
@click.option(
    "--faults",
    default="",
    help="Fault knobs, e.g. '5xx=0.2,429=0.1:2,slow=0.05:0.5,malformed=0.05,partial=0.1,backoff=0.05:2,"
    "limit=450/900,quota=10000/300' (see sandbox/faults.py).",
)
@click.option(
    "--token-env",
    default="DEVSIGNAL_DEMO_X_TOKEN",
    show_default=True,
    help="Variable holding the credential the sandbox accepts (X bearer token, Stack Exchange key, enrichment "
    "key); unset: sandbox-token.",
)
@click.option("--anchor", help="The world's 'now' (ISO 8601, UTC); default today 00:00 UTC.")
@click.option(
    "--seed-control-db",
    is_flag=True,
    help="Also give the world's organizations their CRM (as an import would) and product events "
    "(as the Segment API would).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Serve the world `make demo` used in this DEVSIGNAL_HOME (its seed, scale and day), and "
    "print the variables that let `devsignal sync` reach it for the demo's organizations.",
)
def sandbox_serve(
    port: int,
    seed: int,
    scale: float,
    tweets: int | None,
    faults: str,
    token_env: str,
    anchor: str | None,
    seed_control_db: bool,
    demo: bool,
) -> None:
    """Serve the X API v2, Stack Exchange 2.3, GitHub REST v3 and Clearbit-style enrichment subsets
    for a seeded world (every API accepts the token `sandbox-token`, or the value of --token-env)."""
    from devsignal_pipelines.demo.seed import connect_demo_organizations, seed_first_party
    from devsignal_pipelines.sandbox.faults import Faults
    from devsignal_pipelines.sandbox.server import serve
    from devsignal_pipelines.sandbox.world import generate_world

    token = os.environ.get(token_env, "sandbox-token")
    anchor_at = datetime.fromisoformat(anchor) if anchor else None
    secrets = ""
    if demo:
        from devsignal_pipelines.demo.runner import demo_world_params
        from devsignal_pipelines.demo.seed import (
            DEMO_ENRICHMENT_KEY_ENV,
            DEMO_SE_KEY_ENV,
            DEMO_TOKEN_ENV,
        )

        params = demo_world_params(load_settings(), seed, scale)
        anchor_at = anchor_at or params["anchor"]
        secrets = " ".join(
            f"{name}={token}" for name in (DEMO_TOKEN_ENV, DEMO_SE_KEY_ENV, DEMO_ENRICHMENT_KEY_ENV)
        )
    if seed_control_db:
        world = generate_world(seed=seed, scale=scale, tweets=tweets, anchor=anchor_at)
        control = _control()
        counts = seed_first_party(control, world)
        # One credential for the three sandbox APIs: the variable named by --token-env.
        connect_demo_organizations(
            control, world, token_env, se_key_env=token_env, enrichment_key_env=token_env
        )
        click.echo(f"control DB seeded: {counts}")
    url = f"http://127.0.0.1:{port}"
    click.echo(
        f"sandbox APIs on {url} (seed {seed}); point the pipeline at it with\n"
        f"  export DEVSIGNAL_X_API_URL={url} DEVSIGNAL_STACKEXCHANGE_API_URL={url} "
        f"DEVSIGNAL_ENRICHMENT_API_URL={url} DEVSIGNAL_GITHUB_API_URL={url}"
        + (f" \\\n    {secrets}" if secrets else "")
    )
    serve(
        port=port,
        seed=seed,
        scale=scale,
        faults=Faults.from_spec(faults),
        tokens=[token],
        tweets=tweets,
        anchor=anchor_at,
    )


# --- identity ----------------------------------------------------------------------------------


@main.group()
def identity() -> None:
    """The identity graph: which author is which contact, and why."""


@identity.command("explain")
@click.argument("organization")
@click.option("--contact", "contact_id", help="Explain every identity linked to this contact id.")
@click.option(
    "--platform",
    type=click.Choice(["twitter", "stackoverflow", "github", "product"]),
    help="With --user-id.",
)
@click.option(
    "--user-id",
    help="Explain one account: X user id, Stack Overflow user_id, GitHub user id, or the product's userId.",
)
def identity_explain(
    organization: str, contact_id: str | None, platform: str | None, user_id: str | None
) -> None:
    """Print why identities are linked: method, confidence, the evidence that matched, and when."""
    from devsignal_pipelines.lib.identity.explain import explain_contact, explain_identity
    from devsignal_pipelines.lib.stores.warehouse import Warehouse

    if bool(contact_id) == bool(platform and user_id):
        raise click.UsageError(
            "pass either --contact ID, or --platform twitter|stackoverflow|github|product with --user-id ID"
        )
    warehouse = Warehouse(load_settings().warehouse_url)
    try:
        if contact_id:
            text = explain_contact(warehouse, _control(), organization, contact_id)
        else:
            text = explain_identity(warehouse, _control(), organization, platform, user_id)
    except LookupError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(text)


# --- analysts ----------------------------------------------------------------------------------


@main.command("classify")
def classify() -> None:
    """Read texts from stdin, one per line; print one JSON object per line: sentiment, score, type."""
    from devsignal_pipelines.lib.classify.texts import classify_texts

    texts = [line.rstrip("\n") for line in sys.stdin]
    result = classify_texts(texts)
    for text, row in zip(texts, result.itertuples(index=False), strict=True):
        click.echo(
            json.dumps(
                {
                    "text": text,
                    "sentiment": row.sentiment,
                    "score": round(float(row.sentiment_score), 4),
                    "type": row.tweet_type,
                },
                ensure_ascii=False,
            )
        )


main.add_command(cli_sql.sql)
main.add_command(cli_data.api_cmd)
main.add_command(cli_data.import_cmd)
main.add_command(cli_published.read_path)
cli_webhooks.register(main, orgs)

if __name__ == "__main__":
    main()
