"""The control DB: organizations, connector settings and the CRM side (SQLAlchemy 2 Core).

SQLite file under DEVSIGNAL_HOME by default, PostgreSQL via DEVSIGNAL_CONTROL_DB_URL. Connector
rows hold the *name* of the environment variable with a secret, never the secret itself; a
credential given on standard input is kept Fernet-encrypted in `connector_secrets`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:  # imported by read_df: `devsignal orgs add` and the like do without pandas
    import pandas as pd

metadata = sa.MetaData()


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(name: str, **kw: Any) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    _ts("created_at", nullable=False, default=_now),
    # Points a score must move before score.changed is sent; NULL: DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD.
    sa.Column("score_change_threshold", sa.Float),
)

connectors = sa.Table(
    "connectors",
    metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("settings", sa.JSON, nullable=False, default=dict),
    sa.Column("secret_env", sa.String(128)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now, onupdate=_now),
)

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("name", sa.String(300)),
    sa.Column("domain", sa.String(253)),
    # Written by people; enrichment fills core.companies.description only while this is empty.
    sa.Column("description", sa.Text),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now, onupdate=_now),
    # From the CRM or Segment `group` traits (firmographics come from enrichment).
    sa.Column("plan", sa.String(64)),
    sa.Column("employees", sa.BigInteger),
    # Every other field the CRM or `group` sent, kept as JSON.
    sa.Column("properties", sa.JSON),
    sa.UniqueConstraint("organization_id", "domain", name="uq_companies_org_domain"),
)

# The organization's own keys for a company: its CRM id (platform 'crm') and its Segment groupId
# (platform 'segment_group'). Several keys can name one company (matched by domain).
company_identities = sa.Table(
    "company_identities",
    metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.String(255), primary_key=True),
    sa.Column("company_id", sa.ForeignKey("companies.id", ondelete="CASCADE"), nullable=False),
    _ts("created_at", nullable=False, default=_now),
    # The time of the newest record or `group` call applied (older ones do not overwrite it).
    _ts("updated_at"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("company_id", sa.ForeignKey("companies.id", ondelete="SET NULL")),
    sa.Column("full_name", sa.String(300)),
    sa.Column("email", sa.String(320)),
    # crm: entered by the customer; product: from a Segment `identify`; twitter/stackoverflow:
    # created by identity resolution.
    sa.Column("source", sa.String(32), nullable=False, default="crm"),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now, onupdate=_now),
    sa.Column("title", sa.String(300)),
    sa.Column("phone", sa.String(64)),
    # Handles the person claims (CRM field or `identify` trait): identity resolution links the
    # X / GitHub account with that handle to this contact.
    sa.Column("twitter_handle", sa.String(64)),
    sa.Column("github_handle", sa.String(64)),
    sa.Column("properties", sa.JSON),
    sa.Index("ix_contacts_org", "organization_id"),
)

contact_identities = sa.Table(
    "contact_identities",
    metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("platform_user_id", sa.String(255), primary_key=True),
    sa.Column("contact_id", sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("username", sa.String(100)),
    # How the identity was established: crm, or the identity-resolution method that created it.
    sa.Column("method", sa.String(32), nullable=False, default="crm"),
    sa.Column("confidence", sa.Float, nullable=False, default=1.0),
    sa.Column("evidence", sa.JSON, nullable=False, default=dict),
    _ts("created_at", nullable=False, default=_now),
    # The time of the newest CRM record or `identify` applied through this identity (platforms
    # 'crm' and 'product'); an older one arriving late does not overwrite it.
    _ts("updated_at"),
)

deals = sa.Table(
    "deals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("company_id", sa.ForeignKey("companies.id", ondelete="SET NULL")),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("amount", sa.Float),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now, onupdate=_now),
    # The CRM's own id (the id is derived from it); currency, close date, pipeline as sent.
    sa.Column("external_id", sa.String(255)),
    sa.Column("currency", sa.String(3)),
    _ts("close_date"),
    sa.Column("pipeline", sa.String(64)),
    sa.Column("properties", sa.JSON),
    # The CRM's own time of the newest record applied (NULL while none came with one): an older
    # record arriving late is skipped. updated_at is when the row last changed.
    _ts("source_updated_at"),
)

deal_stage_changes = sa.Table(
    "deal_stage_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("deal_id", sa.ForeignKey("deals.id", ondelete="CASCADE"), nullable=False),
    sa.Column("from_stage", sa.String(32)),
    sa.Column("to_stage", sa.String(32), nullable=False),
    _ts("changed_at", nullable=False, default=_now),
)

# Segment `group` calls: which of the organization's product users belong to which group.
group_memberships = sa.Table(
    "group_memberships",
    metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("group_id", sa.String(255), primary_key=True),
    _ts("observed_at", nullable=False),
)

# Segment messages accepted by the API (`/v1/*`) or `devsignal import ... events`, durable before
# the 2xx, waiting to be loaded into raw.product_events. The loader deletes what it loaded, so
# the table only holds what is in flight; (organization_id, message_id) drops re-sent messages
# while they wait, and raw.product_events' primary key does it for good.
event_intake = sa.Table(
    "event_intake",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("event", sa.String(200)),
    sa.Column("name", sa.String(200)),
    sa.Column("user_id", sa.String(255)),
    sa.Column("anonymous_id", sa.String(255)),
    sa.Column("group_id", sa.String(255)),
    sa.Column("previous_id", sa.String(255)),
    _ts("occurred_at", nullable=False),
    _ts("original_timestamp"),
    _ts("sent_at"),
    _ts("received_at", nullable=False),
    sa.Column("properties", sa.Text),  # JSON text, as sent
    sa.Column("traits", sa.Text),
    sa.Column("context", sa.Text),
    sa.Column("via", sa.String(16), nullable=False),  # api | import
    sa.UniqueConstraint("organization_id", "message_id", name="uq_event_intake_org_message"),
    sa.Index("ix_event_intake_org_seq", "organization_id", "seq"),
    # Never reuse a seq once its row is deleted (the sensor's run keys name the highest seq).
    sqlite_autoincrement=True,
)

# Legacy: first-party signals written straight into the control DB by earlier demos. Nothing
# writes here any more (events arrive through event_intake); kept so old databases still open.
product_signals = sa.Table(
    "product_signals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("contact_id", sa.ForeignKey("contacts.id", ondelete="SET NULL")),
    sa.Column("company_id", sa.ForeignKey("companies.id", ondelete="SET NULL")),
    sa.Column("signal_type", sa.String(64), nullable=False),
    _ts("occurred_at", nullable=False),
    sa.Column("properties", sa.JSON, nullable=False, default=dict),
    _ts("recorded_at", nullable=False, default=_now),
    sa.Index("ix_product_signals_org", "organization_id"),
)

# --- webhooks (docs/webhooks.md) -------------------------------------------------------------

webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    # Fernet token of the whsec_ secret (DEVSIGNAL_SECRET_KEY); the plain secret is never stored.
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    # active | paused (held) | disabled (410, or failing for days) | deleted (kept for the log)
    sa.Column("status", sa.String(16), nullable=False, default="active"),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_via", sa.String(16), nullable=False, default="cli"),
    # Set by the first failure after a success; an endpoint failing for days gets disabled.
    _ts("failing_since"),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now, onupdate=_now),
    sa.Index("ix_webhook_subscriptions_org_type", "organization_id", "event_type", "status"),
)

# The outbox: one row per event, written by the materialization that made the change. No foreign
# key to organizations: it is a log, and an emitter never fails on a tenant being removed.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # deterministic: evt_<hash of the change>
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    _ts("occurred_at", nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the exact body every delivery sends
    sa.Column("is_test", sa.Boolean, nullable=False, default=False),
    _ts("created_at", nullable=False, default=_now),
    _ts("fanned_out_at"),
    sa.Column("fanout_batch", sa.String(32)),
    sa.Index("ix_webhook_events_fanned_out", "fanned_out_at"),
    sa.Index("ix_webhook_events_org_created", "organization_id", "created_at"),
)

# The delivery log: one row per (event, subscription), whatever the number of attempts.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", sa.ForeignKey("webhook_events.id"), nullable=False),
    sa.Column(
        "subscription_id",
        sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("organization_id", sa.String(64), nullable=False),
    # pending | succeeded | failed (retries exhausted) | cancelled (subscription gone)
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    # Attempts since the last (re)delivery request: the position in the retry schedule.
    sa.Column("cycle_attempts", sa.Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    sa.Column("claim", sa.String(32)),
    _ts("claimed_until"),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    _ts("delivered_at"),
    _ts("created_at", nullable=False, default=_now),
    _ts("updated_at", nullable=False, default=_now),
    sa.UniqueConstraint("event_id", "subscription_id", name="uq_webhook_deliveries_event_sub"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_sub", "subscription_id", "status"),
)

# Every attempt, with the decision taken on it (the delivery row is updated from these rows).
webhook_delivery_attempts = sa.Table(
    "webhook_delivery_attempts",
    metadata,
    sa.Column(
        "delivery_id", sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("attempt", sa.Integer, primary_key=True),
    _ts("started_at", nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    # succeeded | retry | failed | gone (410)
    sa.Column("outcome", sa.String(16), nullable=False),
    _ts("next_attempt_at"),
)

# API keys for the REST-hook API: only a SHA-256 of the key is kept (keys are 256-bit random).
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    _ts("created_at", nullable=False, default=_now),
    _ts("last_used_at"),
    _ts("revoked_at"),
    # Refused from then on; NULL: never expires.
    _ts("expires_at"),
    # "cli", or the id of the key that created it through the API (NULL: before this was kept).
    sa.Column("created_by", sa.String(32)),
)

# Connector credentials given on standard input (`orgs connect ... --token-stdin / --key-stdin`):
# a Fernet token under DEVSIGNAL_SECRET_KEY, never the credential itself. Preferred over the
# environment variable a connector names (lib/sources/credentials.py).
connector_secrets = sa.Table(
    "connector_secrets",
    metadata,
    sa.Column(
        "organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    _ts("updated_at", nullable=False, default=_now),
)

CONNECTOR_SOURCES = ("twitter", "stackoverflow", "github", "enrichment", "events", "crm")
# Sources whose data is pushed to DevSignal (API, import) rather than pulled by a sync.
PUSHED_SOURCES = ("events", "crm")
# Columns created narrower by earlier versions: widened on PostgreSQL (SQLite does not enforce
# VARCHAR lengths). Organizations' own ids (Segment userIds, CRM ids) can be long.
_WIDENED = {("contact_identities", "platform_user_id"): 255}
_ORG_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ControlDBError(ValueError):
    """A control-DB request that cannot be carried out, with what to do about it."""


def validate_organization_id(name: str) -> str:
    if not _ORG_ID.match(name):
        raise ControlDBError(
            f"organization name {name!r} is not valid: use lower-case letters, digits and '-', "
            "starting with a letter or digit, at most 63 characters (e.g. 'acme-data')"
        )
    return name


def validate_env_name(name: str) -> str:
    if not _ENV_NAME.match(name):
        raise ControlDBError(
            f"{name!r} is not an environment variable name; pass the variable's NAME (e.g. ACME_X_TOKEN), "
            "never the token itself"
        )
    return name


class ControlDB:
    """Transactional access to the control DB."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(url, connect_args={"timeout": 30})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(
                re.sub(r"^postgres(ql)?:", "postgresql+psycopg2:", url), pool_pre_ping=True
            )

    def create_all(self) -> None:
        """Create missing tables, and add missing nullable columns (additive migrations only)."""
        metadata.create_all(self.engine)
        inspector = sa.inspect(self.engine)
        with self.begin() as conn:
            for table in metadata.sorted_tables:
                existing = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in existing and column.nullable:
                        column_type = column.type.compile(dialect=self.engine.dialect)
                        conn.execute(
                            sa.text(
                                f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column_type}"
                            )
                        )
            if self.engine.dialect.name == "postgresql":
                for (table_name, column_name), length in _WIDENED.items():
                    current = next(
                        c["type"]
                        for c in inspector.get_columns(table_name)
                        if c["name"] == column_name
                    )
                    if (getattr(current, "length", None) or length) >= length:
                        continue
                    # Widening a VARCHAR is a catalog change on PostgreSQL, no table rewrite.
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {table_name} ALTER COLUMN {column_name} "
                            f"TYPE VARCHAR({length})"
                        )
                    )

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    def read_df(self, statement: sa.Executable) -> pd.DataFrame:
        import pandas as pd

        with self.engine.connect() as conn:
            result = conn.execute(statement)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    # --- organizations and connectors ----------------------------------------------------------

    def add_organization(self, org_id: str, name: str | None = None) -> bool:
        """Create an organization; returns False when it already exists."""
        validate_organization_id(org_id)
        with self.begin() as conn:
            inserted = conn.execute(
                self.insert_ignore(organizations, ["id"]).values(
                    id=org_id, name=name or org_id, created_at=_now()
                )
            )
            return bool(inserted.rowcount)

    def list_organizations(self) -> list[sa.Row]:
        """Every organization (id, name, created_at), by id; rows, not a frame: `orgs list`
        stays clear of pandas' import time."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(organizations).order_by(organizations.c.id)))

    def score_thresholds(self) -> dict[str, float]:
        """The organizations that set their own score.changed threshold, with it."""
        t = organizations
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.id, t.c.score_change_threshold).where(
                    t.c.score_change_threshold.is_not(None)
                )
            )
            return {row.id: float(row.score_change_threshold) for row in rows}

    def set_score_threshold(self, org_id: str, points: float | None) -> None:
        """Set (None: clear, back to the default) an organization's score.changed threshold."""
        if points is not None and not (0 <= points < float("inf")):
            raise ControlDBError(f"a score threshold is a number of points >= 0, got {points}")
        with self.engine.begin() as conn:
            self.require_organization(conn, org_id)
            conn.execute(
                sa.update(organizations)
                .where(organizations.c.id == org_id)
                .values(score_change_threshold=points)
            )

    def require_organization(self, conn: sa.Connection, org_id: str) -> None:
        if (
            conn.execute(sa.select(organizations.c.id).where(organizations.c.id == org_id)).first()
            is None
        ):
            raise _no_organization(org_id)

    def lock_organization(self, conn: sa.Connection, org_id: str) -> None:
        """Take the organization's row lock for the rest of `conn`'s transaction: writers of its
        CRM side (which read, match by email or domain, then insert) run one at a time, so two
        concurrent requests cannot both create the same person. Call it first in the transaction.
        """
        locked = conn.execute(
            sa.update(organizations)
            .where(organizations.c.id == org_id)
            .values(name=organizations.c.name)
        )
        if not locked.rowcount:
            raise _no_organization(org_id)

    def connect_source(
        self, org_id: str, source: str, settings: Mapping[str, Any], secret_env: str | None
    ) -> None:
        """Add or replace an organization's connector settings (enabled)."""
        if source not in CONNECTOR_SOURCES:
            raise ControlDBError(
                f"unknown source {source!r}; use one of {', '.join(CONNECTOR_SOURCES)}"
            )
        if secret_env is not None:
            validate_env_name(secret_env)
        with self.begin() as conn:
            self.require_organization(conn, org_id)
            values = {
                "settings": dict(settings),
                "secret_env": secret_env,
                "enabled": True,
                "updated_at": _now(),
            }
            stmt = self._insert(connectors).values(
                organization_id=org_id, source=source, created_at=_now(), **values
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["organization_id", "source"], set_=values
                )
            )

    def disconnect_source(self, org_id: str, source: str) -> bool:
        """Disable a connector; its data stays in the warehouse. Returns False if it was not connected."""
        with self.begin() as conn:
            self.require_organization(conn, org_id)
            result = conn.execute(
                sa.update(connectors)
                .where(
                    connectors.c.organization_id == org_id,
                    connectors.c.source == source,
                    connectors.c.enabled,
                )
                .values(enabled=False, updated_at=_now())
            )
            return bool(result.rowcount)

    def connectors(
        self, source: str | None = None, org_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Enabled connectors, optionally for one source or organization."""
        stmt = (
            sa.select(connectors).where(connectors.c.enabled).order_by(connectors.c.organization_id)
        )
        if source:
            stmt = stmt.where(connectors.c.source == source)
        if org_id:
            stmt = stmt.where(connectors.c.organization_id == org_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def connector_settings(self, org_id: str, source: str) -> dict[str, Any] | None:
        """A connector's settings whether or not it is enabled (None: never connected)."""
        stmt = sa.select(connectors.c.settings).where(
            connectors.c.organization_id == org_id, connectors.c.source == source
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else dict(row.settings or {})

    def ensure_pushed_source(self, org_id: str, source: str) -> None:
        """Enable `events` / `crm` for an organization the first time it pushes data (default
        settings); refuse when an operator disconnected it."""
        if source not in PUSHED_SOURCES:
            raise ValueError(f"{source!r} is not pushed; use one of {', '.join(PUSHED_SOURCES)}")
        with self.begin() as conn:
            self.require_organization(conn, org_id)
            conn.execute(
                self.insert_ignore(connectors, ["organization_id", "source"]).values(
                    organization_id=org_id,
                    source=source,
                    settings={},
                    enabled=True,
                    created_at=_now(),
                    updated_at=_now(),
                )
            )
            enabled = conn.execute(
                sa.select(connectors.c.enabled).where(
                    connectors.c.organization_id == org_id, connectors.c.source == source
                )
            ).scalar_one()
        if not enabled:
            raise ControlDBError(
                f"organization {org_id!r} is disconnected from {source}; reconnect it with: "
                f"devsignal orgs connect {org_id} {source}"
            )

    def touch_source(self, conn: sa.Connection, org_id: str, source: str) -> None:
        """Mark that `source` data of the organization changed (first_party_sensor watches it)."""
        conn.execute(
            sa.update(connectors)
            .where(connectors.c.organization_id == org_id, connectors.c.source == source)
            .values(updated_at=_now())
        )

    def rename_tracked_repositories(self, org_id: str, renamed: Mapping[str, str]) -> None:
        """GitHub moved repositories: track them under their new names from now on."""
        with self.begin() as conn:
            row = conn.execute(
                sa.select(connectors.c.settings).where(
                    connectors.c.organization_id == org_id, connectors.c.source == "github"
                )
            ).first()
            if row is None:
                return
            settings = dict(row.settings or {})
            lowered = {old.lower(): new for old, new in renamed.items()}
            repos = [lowered.get(r.lower(), r) for r in settings.get("repos") or []]
            settings["repos"] = list(dict.fromkeys(repos))
            conn.execute(
                sa.update(connectors)
                .where(connectors.c.organization_id == org_id, connectors.c.source == "github")
                .values(settings=settings, updated_at=_now())
            )

    def connected_organization_ids(self) -> list[str]:
        return sorted({c["organization_id"] for c in self.connectors()})

    # --- bulk CRM writes -------------------------------------------------------------------------

    def insert_missing(
        self, conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> int:
        """Insert rows whose primary key is not there yet (idempotent bulk load); returns rows inserted."""
        if not rows:
            return 0
        keys = [c.name for c in table.primary_key.columns]
        result = conn.execute(self.insert_ignore(table, keys), list(rows))
        return max(result.rowcount, 0)

    def insert_ignore(self, table: sa.Table, keys: Iterable[str]) -> Any:
        return self._insert(table).on_conflict_do_nothing(index_elements=list(keys))

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(table)


def _no_organization(org_id: str) -> ControlDBError:
    return ControlDBError(
        f"organization {org_id!r} does not exist; create it with: devsignal orgs add {org_id}"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Every commit reaches the disk before it returns: the API's 2xx promises the data is kept.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
