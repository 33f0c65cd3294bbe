"""Per-subscription signing secrets: generated here, shown once, stored encrypted (Fernet).

The same encryption keeps connector credentials given on standard input (lib/sources/credentials.py).
The encryption key comes from DEVSIGNAL_SECRET_KEY (a Fernet key; several comma-separated keys
rotate: the first encrypts, every one decrypts, `devsignal orgs rotate-secrets` re-encrypts what is
stored with the first). It is read when needed and never logged.
"""

from __future__ import annotations

import base64
import os
import secrets as _random

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SECRET_KEY_ENV = "DEVSIGNAL_SECRET_KEY"
SECRET_PREFIX = "whsec_"
_CREATE_KEY = (
    "create one with: .venv/bin/python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' "
    f"and export {SECRET_KEY_ENV}=<that key> wherever the devsignal CLI, the API and Dagster run "
    "(keep it: without it stored webhook secrets and connector credentials cannot be read)"
)


class SecretKeyError(RuntimeError):
    """DEVSIGNAL_SECRET_KEY is missing or unusable."""


def new_signing_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(32)).decode()


def _cipher() -> MultiFernet:
    raw = os.environ.get(SECRET_KEY_ENV, "").strip()
    if not raw:
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not set; it encrypts webhook signing secrets and connector "
            f"credentials at rest. {_CREATE_KEY}"
        )
    try:
        return MultiFernet(
            [Fernet(part.strip().encode()) for part in raw.split(",") if part.strip()]
        )
    except (ValueError, TypeError):
        raise SecretKeyError(
            f"{SECRET_KEY_ENV} is not a valid Fernet key (32 url-safe base64-encoded bytes); "
            + _CREATE_KEY
        ) from None


def encrypt_secret(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def decrypt_secret(
    token: str,
    what: str = "a stored webhook secret",
    instead: str = "re-create the subscription",
) -> str:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretKeyError(
            f"{what} cannot be decrypted with {SECRET_KEY_ENV}: the key changed. "
            f"Put the old key back (several keys may be given, comma-separated, newest first), "
            f"or {instead}"
        ) from None


def reencrypt_secret(token: str, what: str = "a stored webhook secret") -> str:
    """The same secret encrypted with the first key (any key may decrypt it): for key rotation."""
    try:
        return _cipher().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretKeyError(
            f"{what} cannot be decrypted with any key in {SECRET_KEY_ENV}; put the key it was "
            "stored with back (comma-separated, after the new one)"
        ) from None


def secret_key_count() -> int:
    """How many keys DEVSIGNAL_SECRET_KEY holds (raises SecretKeyError when none or invalid)."""
    _cipher()
    return sum(1 for part in os.environ.get(SECRET_KEY_ENV, "").split(",") if part.strip())


def require_secret_key() -> None:
    """Fail early, with the fix, when the key is missing (before any secret is created)."""
    _cipher()
