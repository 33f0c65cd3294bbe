"""Webhook settings from the environment (read when needed, never at import time)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

DEFAULT_RETRY_SCHEDULE_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


class WebhookSettingsError(ValueError):
    """A DEVSIGNAL_WEBHOOK_* variable that cannot be used, with what to set instead."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class WebhookSettings:
    # Delays before retry 1, 2, ...; a delivery gets 1 + len(retry_schedule_s) attempts.
    retry_schedule_s: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE_S
    # Each delay is stretched by a random factor in [1, 1 + retry_jitter].
    retry_jitter: float = 0.2
    timeout_s: float = 15.0
    # A Retry-After longer than this is capped (a receiver cannot park a delivery for a week).
    max_retry_after_s: float = 86400.0
    # An endpoint that has failed every attempt for this long is disabled.
    disable_after_days: float = 5.0
    concurrency: int = 64
    require_https: bool = False
    # Addresses that may be targeted although private/loopback: for local testing only.
    allowed_networks: tuple[IPNetwork, ...] = ()
    # score.changed is sent when a score moved this many points since the last event sent for
    # the account (tier.changed always); an organization may set its own (webhooks score-threshold).
    score_change_threshold: float = 5.0

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_schedule_s)


def _float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WebhookSettingsError(
            f"{name}={raw!r} is not a number (e.g. {name}={default:g})"
        ) from None
    if value < minimum:
        raise WebhookSettingsError(f"{name}={raw!r} must be >= {minimum:g}")
    return value


def parse_retry_schedule(
    raw: str, name: str = "DEVSIGNAL_WEBHOOK_RETRY_SCHEDULE"
) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise WebhookSettingsError(
            f"{name}={raw!r} must be comma-separated seconds, e.g. '5,300,1800,7200,18000,36000,36000'"
        ) from None
    if any(d < 0 for d in delays):
        raise WebhookSettingsError(f"{name}={raw!r}: delays must be >= 0 seconds")
    return delays


def parse_networks(
    raw: str, name: str = "DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS"
) -> tuple[IPNetwork, ...]:
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise WebhookSettingsError(
                f"{name}: {part!r} is not an IP address or CIDR network (e.g. 127.0.0.1/32 or ::1)"
            ) from None
    return tuple(networks)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise WebhookSettingsError(f"{name}={raw!r}: use true or false")


def load_webhook_settings() -> WebhookSettings:
    """Read the DEVSIGNAL_WEBHOOK_* variables (see docs/webhooks.md, "Settings")."""
    schedule = os.environ.get("DEVSIGNAL_WEBHOOK_RETRY_SCHEDULE", "").strip()
    return WebhookSettings(
        retry_schedule_s=parse_retry_schedule(schedule) if schedule else DEFAULT_RETRY_SCHEDULE_S,
        retry_jitter=_float("DEVSIGNAL_WEBHOOK_RETRY_JITTER", 0.2),
        timeout_s=_float("DEVSIGNAL_WEBHOOK_TIMEOUT_S", 15.0, minimum=0.001),
        max_retry_after_s=_float("DEVSIGNAL_WEBHOOK_MAX_RETRY_AFTER_S", 86400.0),
        disable_after_days=_float("DEVSIGNAL_WEBHOOK_DISABLE_AFTER_DAYS", 5.0),
        concurrency=int(_float("DEVSIGNAL_WEBHOOK_CONCURRENCY", 64, minimum=1)),
        require_https=_bool("DEVSIGNAL_WEBHOOK_REQUIRE_HTTPS", False),
        allowed_networks=parse_networks(os.environ.get("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "")),
        score_change_threshold=_float("DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD", 5.0),
    )
