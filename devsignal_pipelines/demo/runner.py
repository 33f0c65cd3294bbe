"""`make demo`: the whole pipeline on the embedded DuckDB default, against the local sandbox.

The world's clock (anchor) is saved in $DEVSIGNAL_HOME/demo.json on the first run and reused, so a
second `make demo` sees the same world and leaves the tables exactly as they were.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from devsignal_pipelines.demo.seed import (
    DEMO_ENRICHMENT_KEY_ENV,
    DEMO_SE_KEY_ENV,
    DEMO_TOKEN_ENV,
    add_organizations,
    connect_demo_organizations,
)
from devsignal_pipelines.lib.stores.warehouse import safe_url
from devsignal_pipelines.settings import Settings, load_settings

DEMO_TOKEN = "sandbox-token"
DEV_SANDBOX_PORT = 8765
# Weekly score snapshots the demo takes before "now", so score history has movement to show.
DEMO_SCORE_WEEKS = 4


def demo_world_params(settings: Settings, seed: int, scale: float) -> dict:
    """The seed, scale and anchor of this home's demo world (created on first use)."""
    state_file = settings.home / "demo.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if state.get("seed") == seed and state.get("scale") == scale:
            return {"seed": seed, "scale": scale, "anchor": datetime.fromisoformat(state["anchor"])}
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    settings.home.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"seed": seed, "scale": scale, "anchor": anchor.isoformat()}))
    return {"seed": seed, "scale": scale, "anchor": anchor}


def run_demo(seed: int = 7, scale: float = 1.0, echo: Callable[[str], None] = print) -> bool:
    from devsignal_pipelines.definitions import build_definitions
    from devsignal_pipelines.defs.resources import StackExchangeResource
    from devsignal_pipelines.demo.first_party import api_server, demo_keys, send_first_party
    from devsignal_pipelines.demo.summary import print_summary
    from devsignal_pipelines.instance import get_instance
    from devsignal_pipelines.lib.stores.control import ControlDB
    from devsignal_pipelines.sandbox.server import SandboxServer
    from devsignal_pipelines.sandbox.world import generate_world

    settings = load_settings()
    params = demo_world_params(settings, seed, scale)
    echo(f"DevSignal demo in {settings.home} (warehouse {safe_url(settings.warehouse_url)})")
    world = generate_world(**params)
    echo(
        f"world seed {seed}: {len(world.organizations)} organizations, {len(world.companies)} companies, "
        f"{len(world.contacts)} contacts, {len(world.tweets)} posts on the sandbox X API"
    )
    os.environ[DEMO_TOKEN_ENV] = os.environ[DEMO_SE_KEY_ENV] = os.environ[
        DEMO_ENRICHMENT_KEY_ENV
    ] = DEMO_TOKEN
    # The sandbox is on loopback: pace Stack Exchange calls at 20/s instead of the polite 1/s.
    defs = build_definitions(stackexchange=StackExchangeResource(pace_s=0.05))
    with SandboxServer(world, tokens=[DEMO_TOKEN]) as server:
        os.environ["DEVSIGNAL_X_API_URL"] = server.base_url
        os.environ["DEVSIGNAL_STACKEXCHANGE_API_URL"] = server.base_url
        os.environ["DEVSIGNAL_ENRICHMENT_API_URL"] = server.base_url
        os.environ["DEVSIGNAL_GITHUB_API_URL"] = server.base_url
        echo(
            f"sandbox X, Stack Exchange, GitHub and enrichment APIs listening on {server.base_url}"
        )
        control = ControlDB(settings.control_db_url)
        add_organizations(control, world)
        connect_demo_organizations(control, world)
        with api_server(control) as api, demo_keys(control, world) as keys:
            echo(f"first-party data through devsignal api on {api.base_url} and devsignal import")
            send_first_party(control, world, api.base_url, keys, settings.home, echo)
        instance = get_instance(settings)
        all_ok = True
        for org in world.organizations:
            echo(
                f"▶ {org.id}: {org.product} on X ({', '.join(org.keywords)}), "
                f"Stack Overflow ([{'], ['.join(org.tags)}]), GitHub, its product events and CRM, "
                "enrichment"
            )
            all_ok &= _run(defs, instance, org.id, "all", echo)
        # The enrichment API answers some first lookups 202 (queued): a later run asks again. In
        # production that is the next scheduled run; the demo does it now so the tables are settled.
        echo("▶ asking the enrichment API again for lookups it had queued (202)")
        for org in world.organizations:
            all_ok &= _run(defs, instance, org.id, "enrichment", echo)
        all_ok &= _build_models(defs, instance, params["anchor"], echo)
    print_summary(settings, world, echo)
    return all_ok


def _run(defs, instance, organization_id: str, source: str, echo: Callable[[str], None]) -> bool:
    from devsignal_pipelines.runner import run_organization

    outcome = run_organization(
        defs, instance, organization_id, source, on_event=lambda line: echo(f"    ✓ {line}")
    )
    status = "ok" if outcome.success and not outcome.failed_checks else "FAILED"
    echo(
        f"  {organization_id} {source}: {status} in {outcome.seconds:.1f}s (run {outcome.run_id[:8]})"
    )
    if outcome.failed_checks:
        echo(f"  failed checks: {', '.join(outcome.failed_checks)}")
    if outcome.error:
        echo(f"  error: {outcome.error}")
    return outcome.success and not outcome.failed_checks


def _build_models(defs, instance, anchor: datetime, echo: Callable[[str], None]) -> bool:
    """Score the accounts once a week for the last four weeks, then at the world's 'now'.

    Each run adds one snapshot to core.account_score_history (the same as-of replaces its own
    snapshot, so a second demo run changes nothing); tier movement and top movers need them.
    """
    from devsignal_pipelines.runner import run_sql_models

    ok = True
    for weeks_back in range(DEMO_SCORE_WEEKS, -1, -1):
        as_of = anchor - timedelta(weeks=weeks_back)
        echo(f"▶ SQL models as of {as_of:%Y-%m-%d}")
        outcome = run_sql_models(
            defs,
            instance,
            as_of=as_of.isoformat(),
            on_event=(lambda line: echo(f"    ✓ {line}")) if weeks_back == 0 else None,
        )
        echo(f"  models: {'ok' if outcome.success else 'FAILED'} in {outcome.seconds:.1f}s")
        for check in outcome.failed_checks:
            echo(f"  failed check: {check}")
        if outcome.error:
            echo(f"  error: {outcome.error}")
        ok &= outcome.success and not outcome.failed_checks
    return ok


def dev_environment(with_sandbox: bool) -> dict[str, str]:
    """Environment for `dagster dev`: the shared instance and, optionally, a sandbox to sync from."""
    from devsignal_pipelines.instance import ensure_dagster_home

    settings = ensure_dagster_home()
    env = dict(os.environ)
    if with_sandbox and "DEVSIGNAL_X_API_URL" not in env:
        import subprocess
        import sys

        params = demo_world_params(settings, 7, 1.0)
        env[DEMO_TOKEN_ENV] = env.get(DEMO_TOKEN_ENV, DEMO_TOKEN)
        env[DEMO_SE_KEY_ENV] = env.get(DEMO_SE_KEY_ENV, DEMO_TOKEN)
        env[DEMO_ENRICHMENT_KEY_ENV] = env.get(DEMO_ENRICHMENT_KEY_ENV, DEMO_TOKEN)
        env["DEVSIGNAL_X_API_URL"] = f"http://127.0.0.1:{DEV_SANDBOX_PORT}"
        env.setdefault("DEVSIGNAL_STACKEXCHANGE_API_URL", env["DEVSIGNAL_X_API_URL"])
        env.setdefault("DEVSIGNAL_ENRICHMENT_API_URL", env["DEVSIGNAL_X_API_URL"])
        env.setdefault("DEVSIGNAL_GITHUB_API_URL", env["DEVSIGNAL_X_API_URL"])
        # The sandbox lives as long as the terminal session; dagster dev replaces this process.
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devsignal_pipelines.cli",
                "sandbox",
                "serve",
                "--port",
                str(DEV_SANDBOX_PORT),
                "--seed",
                str(params["seed"]),
                "--anchor",
                params["anchor"].isoformat(),
            ],
            env=env,
            start_new_session=False,
        )
    return env
