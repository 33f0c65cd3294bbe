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
LOCK_TIMEOUT_VARIABLE = "DEVSIGNAL_WAREHOUSE_LOCK_TIMEOUT_S"
PUBLISHED_DIR_VARIABLE = "DEVSIGNAL_PUBLISHED_DIR"
PUBLISH_GRACE_VARIABLE = "DEVSIGNAL_PUBLISH_GRACE_S"


class SettingsError(ValueError):
    """A DEVSIGNAL_* variable that cannot be used, naming it and what to set instead."""


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str
    control_db_url: str
    x_api_url: str
    stackexchange_api_url: str
    enrichment_api_url: str | None  # None: the vendor's own hosts
    github_api_url: str = GITHUB_API_DEFAULT_URL
    # How long a warehouse connection waits for a DuckDB file another process holds.
    warehouse_lock_timeout_s: float = 300.0
    # The analysts' read path: Parquet files and a small DuckDB file of views over them.
    published_dir: Path | None = None  # None: $DEVSIGNAL_HOME/published
    # Superseded Parquet versions stay this long for sessions that still have the old views open.
    publish_grace_s: float = 3600.0

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def publish_dir(self) -> Path:
        return self.published_dir or self.home / "published"

    @property
    def read_path(self) -> Path:
        """The DuckDB file analysts open (read-only): views over the published tables."""
        return self.publish_dir / "devsignal.duckdb"

    @property
    def warehouse_is_duckdb(self) -> bool:
        return self.warehouse_url.startswith("duckdb:")


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SettingsError(f"{name}={raw!r}: use a number of seconds >= 0, e.g. {default:g}")
    return value


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
        warehouse_lock_timeout_s=_seconds(LOCK_TIMEOUT_VARIABLE, 300.0),
        published_dir=Path(os.environ[PUBLISHED_DIR_VARIABLE]).expanduser().resolve()
        if os.environ.get(PUBLISHED_DIR_VARIABLE)
        else None,
        publish_grace_s=_seconds(PUBLISH_GRACE_VARIABLE, 3600.0),
    )
