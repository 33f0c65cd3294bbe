"""Dagster resources: the two stores and the API clients.

Unset fields fall back to the DEVSIGNAL_* environment at run time, so run config never carries a
URL with a password or a token. Per-organization secrets are read when a run starts: the one stored
encrypted in the control DB (`orgs connect ... --token-stdin`), else the environment variable
*named* in the organization's connector row.
"""

from __future__ import annotations

import os

import dagster as dg
import pandas as pd
from pydantic import Field

from devsignal_pipelines.instance import process_tags
from devsignal_pipelines.lib.sources.credentials import (
    read_credential,
    redact_credentials_in_http_logs,
)
from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentClient
from devsignal_pipelines.lib.sources.enrichment.sync import RefreshPolicy
from devsignal_pipelines.lib.sources.github.client import GitHubClient
from devsignal_pipelines.lib.sources.http import DEFAULT_WAIT_BUDGET_S, RetryPolicy
from devsignal_pipelines.lib.sources.stackoverflow.client import StackExchangeClient
from devsignal_pipelines.lib.sources.twitter.client import XApiClient
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.lib.webhooks.secrets import SecretKeyError
from devsignal_pipelines.settings import load_settings

# Warehouse-writing steps share this pool: limit 1 on DuckDB (one writer per file).
WAREHOUSE_POOL = "warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The analytical warehouse (DuckDB file by default, PostgreSQL via DEVSIGNAL_WAREHOUSE_URL)."""

    url: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Name the process that will hold the run's `warehouse` pool slots (pid, host, start
        # time), whoever launched it: the run itself for a scheduled run, a terminal for
        # `devsignal sync`. If the process dies, free_stale_slots_sensor and the CLI see it.
        run = context.dagster_run
        if context.instance is not None and run is not None:
            tags = process_tags()
            if any(run.tags.get(key) != value for key, value in tags.items()):
                context.instance.add_run_tags(run.run_id, tags)

    def get(self) -> Warehouse:
        # Waiting for a DuckDB file another process holds is reported in the run's log.
        warehouse = Warehouse(
            self.url or load_settings().warehouse_url,
            on_lock_wait=dg.get_dagster_logger("devsignal").warning,
        )
        warehouse.ensure_tables()
        return warehouse


class ControlDBResource(dg.ConfigurableResource):
    """The control DB (SQLite under DEVSIGNAL_HOME by default, PostgreSQL via DEVSIGNAL_CONTROL_DB_URL)."""

    url: str | None = None

    def get(self) -> ControlDB:
        control = ControlDB(self.url or load_settings().control_db_url)
        control.create_all()
        return control


class MissingSecretError(dg.Failure):
    pass


def read_secret(
    organization_id: str,
    source: str,
    env_name: str | None,
    flag: str = "--token-env",
    required: bool = True,
) -> str | None:
    """The secret for one organization's connector: the one stored encrypted in the control DB
    when there is one, else the environment variable the connector names (None when neither is
    configured and the secret is optional)."""
    return lookup_secret(organization_id, source, env_name, flag, required)[0]


def lookup_secret(
    organization_id: str,
    source: str,
    env_name: str | None,
    flag: str = "--token-env",
    required: bool = True,
) -> tuple[str | None, str | None]:
    """(the secret, where it comes from): where is the variable's name or the stored credential,
    what the clients' error messages name (never the value)."""
    stdin_flag = flag.replace("-env", "-stdin")
    redact_credentials_in_http_logs()  # Stack Exchange's key travels in the query string
    control = ControlDB(load_settings().control_db_url)
    try:
        stored = read_credential(control, organization_id, source)
    except SecretKeyError as exc:
        raise MissingSecretError(description=str(exc)) from None
    finally:
        control.engine.dispose()
    if stored is not None:
        kind = "token" if flag == "--token-env" else "key"
        return stored, f"<the {kind} stored with {stdin_flag}>"
    if not env_name:
        if not required:
            return None, None
        raise MissingSecretError(
            description=f"organization '{organization_id}' has no credential configured for {source}; "
            f"reconnect it: devsignal orgs connect {organization_id} {source} ... {flag} VAR_NAME "
            f"(or {stdin_flag} to store it encrypted)"
        )
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise MissingSecretError(
            description=f"environment variable {env_name} is not set (or empty) in this process; it holds the "
            f"{source} credential for organization '{organization_id}'. Export it where Dagster runs "
            f"(the `devsignal` CLI, `dagster dev`, or the code location's environment)."
        )
    return value, env_name


def _wait_budget_field():
    return Field(
        default=DEFAULT_WAIT_BUDGET_S,
        ge=0,
        description="Seconds one sync may spend waiting out rate limits in total; when spent it "
        "stops (cursors kept: GitHub and Stack Overflow keep what they read, X and enrichment fail "
        "the run) and the next run resumes.",
    )


def log_wait(message: str) -> None:
    """A client's rate-limit wait, in the step's Dagster log (`devsignal sync` prints it too)."""
    dg.get_dagster_logger("devsignal.rate_limits").warning(message)


class XApiResource(dg.ConfigurableResource):
    """X API v2 recent search. Base URL from DEVSIGNAL_X_API_URL (the sandbox in demos and tests)."""

    base_url: str | None = None
    max_results: int = Field(
        default=100, ge=10, le=100, description="Posts per page (X allows 10..100)."
    )
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    max_rate_limit_wait_s: float = 300.0
    max_rate_limit_waits: int = 50
    rate_limit_wait_budget_s: float = _wait_budget_field()

    def client_for(self, organization_id: str, token_env: str | None) -> XApiClient:
        token, where = lookup_secret(organization_id, "twitter", token_env)
        return XApiClient(
            self.base_url or load_settings().x_api_url,
            token or "",
            organization_id=organization_id,
            token_env=where or "",
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
                max_rate_limit_waits=self.max_rate_limit_waits,
                rate_limit_wait_budget_s=self.rate_limit_wait_budget_s,
            ),
            on_wait=log_wait,
        )


class StackExchangeResource(dg.ConfigurableResource):
    """Stack Exchange API 2.3. Base URL from DEVSIGNAL_STACKEXCHANGE_API_URL (the sandbox in demos and tests)."""

    base_url: str | None = None
    pace_s: float = Field(
        default=1.0, ge=0, description="Minimum seconds between calls (politeness)."
    )
    quota_reserve: int = Field(
        default=50, ge=0, description="Stop cleanly when quota_remaining drops to this."
    )
    max_throttle_wait_s: float = 300.0
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    rate_limit_wait_budget_s: float = _wait_budget_field()

    def client_for(self, organization_id: str, key_env: str | None) -> StackExchangeClient:
        # The key is optional (keyless quota is 300 a day); when a variable is named it must be set.
        key, where = lookup_secret(
            organization_id, "stackoverflow", key_env, "--key-env", required=False
        )
        return StackExchangeClient(
            self.base_url or load_settings().stackexchange_api_url,
            key,
            organization_id=organization_id,
            key_env=where,
            pace_s=self.pace_s,
            quota_reserve=self.quota_reserve,
            max_throttle_wait_s=self.max_throttle_wait_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                rate_limit_wait_budget_s=self.rate_limit_wait_budget_s,
            ),
            on_wait=log_wait,
        )


class EnrichmentResource(dg.ConfigurableResource):
    """Clearbit-style enrichment API. Base URL from DEVSIGNAL_ENRICHMENT_API_URL (the sandbox in demos and
    tests); unset means the vendor's company and person hosts."""

    base_url: str | None = None
    ttl_hours: float = Field(
        default=24.0, gt=0, description="A cached answer younger than this is not asked again."
    )
    refresh_found_days: float = Field(
        default=30.0,
        gt=0,
        description="A company or person found is asked again (a billed call) after this many days.",
    )
    refresh_not_found_days: float = Field(
        default=7.0, gt=0, description="A not_found or invalid answer is asked again after this."
    )
    max_in_flight: int = Field(
        default=5, ge=1, le=5, description="Concurrent requests (the vendor allows 5)."
    )
    batch_size: int = Field(default=10, ge=1)
    batch_pause_s: float = Field(default=0.5, ge=0, description="Pause between batches of lookups.")
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    max_rate_limit_wait_s: float = 60.0
    rate_limit_wait_budget_s: float = _wait_budget_field()

    def refresh_policy(self) -> RefreshPolicy:
        return RefreshPolicy(
            ttl=pd.Timedelta(hours=self.ttl_hours),
            found=pd.Timedelta(days=self.refresh_found_days),
            not_found=pd.Timedelta(days=self.refresh_not_found_days),
        )

    def client_for(self, organization_id: str, key_env: str | None) -> EnrichmentClient:
        key, where = lookup_secret(organization_id, "enrichment", key_env, "--key-env")
        return EnrichmentClient(
            self.base_url or load_settings().enrichment_api_url,
            key or "",
            organization_id=organization_id,
            key_env=where or "",
            max_in_flight=self.max_in_flight,
            batch_size=self.batch_size,
            batch_pause_s=self.batch_pause_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
                rate_limit_wait_budget_s=self.rate_limit_wait_budget_s,
            ),
            on_wait=log_wait,
        )


class GitHubResource(dg.ConfigurableResource):
    """GitHub REST API v3. Base URL from DEVSIGNAL_GITHUB_API_URL (the sandbox in demos and tests)."""

    base_url: str | None = None
    reserve: int = Field(
        default=500,
        ge=0,
        description="Requests of the token's hourly budget left for other syncs: stop cleanly at it.",
    )
    max_rate_limit_wait_s: float = Field(
        default=300.0, ge=0, description="Wait for a rate-limit reset up to this long, else stop."
    )
    profile_max_age_days: float = Field(
        default=7.0, gt=0, description="Refresh a GitHub profile read longer ago than this."
    )
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    rate_limit_wait_budget_s: float = _wait_budget_field()

    def client_for(self, organization_id: str, token_env: str | None) -> GitHubClient:
        # A token is optional for public repositories (60 requests an hour without one).
        token, where = lookup_secret(organization_id, "github", token_env, required=False)
        return GitHubClient(
            self.base_url or load_settings().github_api_url,
            token,
            organization_id=organization_id,
            token_env=where,
            reserve=self.reserve,
            max_rate_limit_wait_s=self.max_rate_limit_wait_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
                rate_limit_wait_budget_s=self.rate_limit_wait_budget_s,
            ),
            on_wait=log_wait,
        )
