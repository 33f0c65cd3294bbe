"""Connector credentials kept in the control DB, Fernet-encrypted with DEVSIGNAL_SECRET_KEY.

The other way to give a connector its credential is an environment variable on every Dagster host,
named at `orgs connect --token-env / --key-env` (only the name is stored). A credential given on
standard input (`--token-stdin / --key-stdin`) is stored here instead, encrypted as webhook secrets
are (lib/webhooks/secrets.py), and wins when both exist. The plain value exists only in the
process that reads it: never in run config, logs, metadata or tables.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from devsignal_pipelines.lib.stores.control import ControlDB, connector_secrets
from devsignal_pipelines.lib.webhooks.secrets import (
    decrypt_secret,
    encrypt_secret,
    reencrypt_secret,
)
from devsignal_pipelines.lib.webhooks.store import reencrypt_subscription_secrets

# Sources that call an API with a credential of the organization's.
CREDENTIAL_SOURCES = ("twitter", "stackoverflow", "github", "enrichment")
# Query parameters that carry a credential (Stack Exchange's app key has no header form).
_QUERY_CREDENTIAL = re.compile(r"([?&](?:key|access_token)=)[^&#\s]+")


def check_credential_text(value: str, what: str = "the token") -> str:
    """The credential as typed or piped (surrounding whitespace and the final newline dropped);
    ValueError for an empty one or one that cannot be a single token."""
    value = value.strip()
    if not value:
        raise ValueError(f"{what} is empty: nothing was read from standard input")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(
            f"{what} read from standard input has spaces, line breaks or control characters "
            'inside; pipe exactly the one token (e.g. printf %s "$TOKEN" | devsignal ...)'
        )
    return value


def store_credential(control: ControlDB, organization_id: str, source: str, secret: str) -> None:
    """Encrypt and keep the organization's credential for `source` (replacing one stored before).
    SecretKeyError when DEVSIGNAL_SECRET_KEY is missing: nothing is written then."""
    _check_source(source)
    token = encrypt_secret(secret)
    t = connector_secrets
    with control.begin() as conn:
        control.require_organization(conn, organization_id)
        conn.execute(
            sa.delete(t).where(t.c.organization_id == organization_id, t.c.source == source)
        )
        conn.execute(
            sa.insert(t).values(
                organization_id=organization_id,
                source=source,
                secret_encrypted=token,
                updated_at=datetime.now(UTC),
            )
        )


def delete_credential(control: ControlDB, organization_id: str, source: str) -> bool:
    """Forget the stored credential; False when there was none."""
    t = connector_secrets
    with control.begin() as conn:
        deleted = conn.execute(
            sa.delete(t).where(t.c.organization_id == organization_id, t.c.source == source)
        )
    return bool(deleted.rowcount)


def stored_credentials(control: ControlDB) -> set[tuple[str, str]]:
    """(organization, source) of every stored credential (nothing is decrypted)."""
    t = connector_secrets
    with control.engine.connect() as conn:
        return {
            (r.organization_id, r.source)
            for r in conn.execute(sa.select(t.c.organization_id, t.c.source))
        }


def read_credential(control: ControlDB, organization_id: str, source: str) -> str | None:
    """The decrypted credential, or None when none is stored. SecretKeyError (with the fix) when
    DEVSIGNAL_SECRET_KEY is missing or is not the key it was stored with."""
    t = connector_secrets
    with control.engine.connect() as conn:
        token = conn.execute(
            sa.select(t.c.secret_encrypted).where(
                t.c.organization_id == organization_id, t.c.source == source
            )
        ).scalar()
    if token is None:
        return None
    flag = "--token-stdin" if source in ("twitter", "github") else "--key-stdin"
    return decrypt_secret(
        token,
        what=f"the stored {source} credential of organization '{organization_id}'",
        instead=f"store it again: devsignal orgs connect {organization_id} {source} ... {flag}",
    )


def rotate_stored_secrets(control: ControlDB) -> tuple[int, int]:
    """Re-encrypt every stored connector credential and webhook signing secret with the first
    key of DEVSIGNAL_SECRET_KEY, in one transaction: (credentials, webhook secrets). When one
    cannot be decrypted with any key, nothing changes (SecretKeyError naming it)."""
    t = connector_secrets
    with control.begin() as conn:
        rows = conn.execute(sa.select(t.c.organization_id, t.c.source, t.c.secret_encrypted)).all()
        for row in rows:
            token = reencrypt_secret(
                row.secret_encrypted,
                f"the stored {row.source} credential of organization '{row.organization_id}'",
            )
            conn.execute(
                sa.update(t)
                .where(t.c.organization_id == row.organization_id, t.c.source == row.source)
                .values(secret_encrypted=token)
            )
        webhook_secrets = reencrypt_subscription_secrets(conn)
    return len(rows), webhook_secrets


def _check_source(source: str) -> None:
    if source not in CREDENTIAL_SOURCES:
        raise ValueError(f"{source!r} takes no credential; only {', '.join(CREDENTIAL_SOURCES)} do")


class _RedactQueryCredentials(logging.Filter):
    """httpx logs every request's URL at INFO; a key sent in the query string must not follow."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        return True


def _redact(arg: Any) -> Any:
    text = str(arg) if type(arg).__name__ == "URL" or isinstance(arg, str) else None
    if text is None or not _QUERY_CREDENTIAL.search(text):
        return arg
    return _QUERY_CREDENTIAL.sub(r"\1[redacted]", text)


def redact_credentials_in_http_logs() -> None:
    """Install (once) the filter that keeps query-string credentials out of httpx's log lines."""
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQueryCredentials) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactQueryCredentials())
