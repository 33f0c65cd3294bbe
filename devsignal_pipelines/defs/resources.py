"""Dagster resources: the two stores and the API clients.

Unset fields fall back to the DEVSIGNAL_* environment at run time, so run config never carries a
URL with a password or a token. Per-organization secrets are read from the environment variable
*named* in the organization's connector row, when a run starts.
"""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentClient
from devsignal_pipelines.lib.sources.github.client import GitHubClient
from devsignal_pipelines.lib.sources.http import RetryPolicy
from devsignal_pipelines.lib.sources.stackoverflow.client import StackExchangeClient
from devsignal_pipelines.lib.sources.twitter.client import XApiClient
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.settings import load_settings

# Warehouse-writing steps share this pool: limit 1 on DuckDB (one writer per file).
WAREHOUSE_POOL = "warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The analytical warehouse (DuckDB file by default, PostgreSQL via DEVSIGNAL_WAREHOUSE_URL)."""

    url: str | None = None

    def get(self) -> Warehouse:
        warehouse = Warehouse(self.url or load_settings().warehouse_url)
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
    organization_id: str, source: str, env_name: str | None, flag: str = "--token-env"
) -> str:
    """The secret for one organization's connector, from the environment variable it names."""
    if not env_name:
        raise MissingSecretError(
            description=f"organization '{organization_id}' has no environment variable configured for {source}; "
            f"reconnect it: devsignal orgs connect {organization_id} {source} ... {flag} VAR_NAME"
        )
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise MissingSecretError(
            description=f"environment variable {env_name} is not set (or empty) in this process; it holds the "
            f"{source} credential for organization '{organization_id}'. Export it where Dagster runs "
            f"(the `devsignal` CLI, `dagster dev`, or the code location's environment)."
        )
    return value


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

    def client_for(self, organization_id: str, token_env: str | None) -> XApiClient:
        token = read_secret(organization_id, "twitter", token_env)
        return XApiClient(
            self.base_url or load_settings().x_api_url,
            token,
            organization_id=organization_id,
            token_env=token_env or "",
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
                max_rate_limit_waits=self.max_rate_limit_waits,
            ),
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

    def client_for(self, organization_id: str, key_env: str | None) -> StackExchangeClient:
        # The key is optional (keyless quota is 300 a day); when a variable is named it must be set.
        key = (
            read_secret(organization_id, "stackoverflow", key_env, "--key-env") if key_env else None
        )
        return StackExchangeClient(
            self.base_url or load_settings().stackexchange_api_url,
            key,
            organization_id=organization_id,
            key_env=key_env,
            pace_s=self.pace_s,
            quota_reserve=self.quota_reserve,
            max_throttle_wait_s=self.max_throttle_wait_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(max_attempts=self.max_attempts, backoff_base_s=self.backoff_base_s),
        )


class EnrichmentResource(dg.ConfigurableResource):
    """Clearbit-style enrichment API. Base URL from DEVSIGNAL_ENRICHMENT_API_URL (the sandbox in demos and
    tests); unset means the vendor's company and person hosts."""

    base_url: str | None = None
    ttl_hours: float = Field(
        default=24.0, gt=0, description="A cached answer younger than this is not asked again."
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

    def client_for(self, organization_id: str, key_env: str | None) -> EnrichmentClient:
        key = read_secret(organization_id, "enrichment", key_env, "--key-env")
        return EnrichmentClient(
            self.base_url or load_settings().enrichment_api_url,
            key,
            organization_id=organization_id,
            key_env=key_env or "",
            max_in_flight=self.max_in_flight,
            batch_size=self.batch_size,
            batch_pause_s=self.batch_pause_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
            ),
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

    def client_for(self, organization_id: str, token_env: str | None) -> GitHubClient:
        # A token is optional for public repositories (60 requests an hour without one).
        token = read_secret(organization_id, "github", token_env) if token_env else None
        return GitHubClient(
            self.base_url or load_settings().github_api_url,
            token,
            organization_id=organization_id,
            token_env=token_env,
            reserve=self.reserve,
            max_rate_limit_wait_s=self.max_rate_limit_wait_s,
            timeout_s=self.timeout_s,
            policy=RetryPolicy(
                max_attempts=self.max_attempts,
                backoff_base_s=self.backoff_base_s,
                max_rate_limit_wait_s=self.max_rate_limit_wait_s,
            ),
        )
