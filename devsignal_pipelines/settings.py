"""Configuration from the environment (12-factor), with defaults that work on a laptop.

Every setting is read when it is needed, never at import time, so tests and the CLI can point
a process at another home, warehouse or API by setting environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

X_API_DEFAULT_URL = "https://api.twitter.com"
STACKEXCHANGE_API_DEFAULT_URL = "https://api.stackexchange.com"
GITHUB_API_DEFAULT_URL = "https://api.github.com"


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    control_db_url: str
    x_api_url: str
    stackexchange_api_url: str
    enrichment_api_url: str | None  # None: the vendor's own hosts
    github_api_url: str = GITHUB_API_DEFAULT_URL

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def warehouse_is_duckdb(self) -> bool:
        return self.warehouse_url.startswith("duckdb:")


def load_settings() -> Settings:
    """Read the DEVSIGNAL_* variables; see README "Configuration" for each one."""
    home = Path(os.environ.get("DEVSIGNAL_HOME", "./.devsignal")).expanduser().resolve()
    warehouse_url = (
        os.environ.get("DEVSIGNAL_WAREHOUSE_URL") or f"duckdb:///{home / 'warehouse.duckdb'}"
    )
    control_db_url = (
        os.environ.get("DEVSIGNAL_CONTROL_DB_URL") or f"sqlite:///{home / 'control.db'}"
    )
    x_api_url = os.environ.get("DEVSIGNAL_X_API_URL") or X_API_DEFAULT_URL
    return Settings(
        home=home,
        warehouse_url=warehouse_url,
        control_db_url=control_db_url,
        x_api_url=x_api_url.rstrip("/"),
        enrichment_api_url=(os.environ.get("DEVSIGNAL_ENRICHMENT_API_URL") or "").rstrip("/")
        or None,
        stackexchange_api_url=(
            os.environ.get("DEVSIGNAL_STACKEXCHANGE_API_URL") or STACKEXCHANGE_API_DEFAULT_URL
        ).rstrip("/"),
        github_api_url=(
            os.environ.get("DEVSIGNAL_GITHUB_API_URL") or GITHUB_API_DEFAULT_URL
        ).rstrip("/"),
    )
