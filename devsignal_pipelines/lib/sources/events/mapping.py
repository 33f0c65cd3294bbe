"""Which Segment messages become signals, and of which `signal_type`.

- `track`: the organization's mapping of event names (`devsignal orgs connect ORG events --map
  "Project Created=feature_usage,Heartbeat="`), else the built-in names below (Segment's spec
  names for the usual funnel), else the event name in snake_case ("Report Exported" ->
  `report_exported`). An event mapped to nothing is kept in raw.product_events but is no signal.
- `page`: a `docs_view` when its URL (properties.url, else context.page.url) is on a documentation
  host (`--docs-hosts`, default: any host starting with `docs.`) or its path starts with a docs
  path (`--docs-paths`, default `/docs`); other pages are no signal.
- `identify`, `group`, `screen`, `alias`: no signal (they feed contacts, companies and identity).

Names are compared case-, space- and punctuation-insensitively ("signed_up" = "Signed Up"). The
mapping is applied when core.signals is built, so changing it re-types past events too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BUILTIN_EVENT_SIGNALS: dict[str, str] = {
    "Signed Up": "signup",
    "Sign Up": "signup",
    "User Signed Up": "signup",
    "Account Created": "signup",
    "User Created": "signup",
    "Registered": "signup",
    "Signed In": "login",
    "Logged In": "login",
    "API Call": "api_call",
    "API Called": "api_call",
    "API Call Made": "api_call",
    "API Request": "api_call",
    "API Request Made": "api_call",
    "Feature Used": "feature_usage",
    "Feature Usage": "feature_usage",
    "Docs Viewed": "docs_view",
    "Documentation Viewed": "docs_view",
    "Repository Starred": "github_star",
    "Repo Starred": "github_star",
    "GitHub Star": "github_star",
}
DEFAULT_DOCS_PATHS = ("/docs",)
DOCS_HOST_PREFIX = "docs."
_SIGNAL_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def event_key(name: str) -> str:
    """'Signed Up', 'signed_up', ' SIGNED-UP ' -> 'signed up' (the SQL computes the same)."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", name.lower()).split())


@dataclass(frozen=True)
class EventSettings:
    """An organization's `events` connector settings (control DB), with the defaults filled."""

    event_map: dict[str, str] = field(default_factory=dict)  # event name -> signal type ('' = none)
    docs_hosts: tuple[str, ...] = ()
    docs_paths: tuple[str, ...] = DEFAULT_DOCS_PATHS

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> EventSettings:
        settings = settings or {}
        return cls(
            event_map=dict(settings.get("event_map") or {}),
            docs_hosts=tuple(settings.get("docs_hosts") or ()),
            docs_paths=tuple(settings.get("docs_paths") or DEFAULT_DOCS_PATHS),
        )

    def as_settings(self) -> dict[str, Any]:
        return {
            "event_map": dict(self.event_map),
            "docs_hosts": list(self.docs_hosts),
            "docs_paths": list(self.docs_paths),
        }

    def signal_types(self) -> dict[str, str]:
        """Normalized event name -> signal type ('' for no signal): built-ins, then the organization's."""
        merged = {event_key(k): v for k, v in BUILTIN_EVENT_SIGNALS.items()}
        merged.update({event_key(k): v for k, v in self.event_map.items()})
        return merged


def parse_event_map(text: str) -> dict[str, str]:
    """'Signed Up=signup, Heartbeat=' -> {'Signed Up': 'signup', 'Heartbeat': ''}; a clear error
    for anything else."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, signal_type = item.partition("=")
        name, signal_type = name.strip(), signal_type.strip()
        if not sep or not event_key(name):
            raise ValueError(
                f"--map entry {item!r} is not 'Event Name=signal_type' (e.g. 'Signed Up=signup'; "
                "'Heartbeat=' to ignore an event)"
            )
        if signal_type and not _SIGNAL_TYPE.match(signal_type):
            raise ValueError(
                f"--map: {signal_type!r} is not a signal type: lower-case letters, digits and '_', "
                "starting with a letter (e.g. feature_usage)"
            )
        same = next((k for k in mapping if event_key(k) == event_key(name)), None)
        if same is not None and mapping[same] != signal_type:
            raise ValueError(
                f"--map names one event twice: {same!r} and {name!r} (names are compared without "
                "case, spaces or punctuation); keep one"
            )
        mapping[name] = signal_type
    return mapping


def parse_hosts(text: str) -> list[str]:
    hosts = [
        h.strip().lower().removeprefix("https://").removeprefix("http://").strip("/")
        for h in text.split(",")
    ]
    bad = [h for h in hosts if h and not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", h)]
    if bad:
        raise ValueError(f"--docs-hosts: {', '.join(bad)} are not host names (e.g. docs.acme.dev)")
    return [h for h in hosts if h]


def parse_paths(text: str) -> list[str]:
    paths = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in paths if not p.startswith("/")]
    if bad:
        raise ValueError(f"--docs-paths: {', '.join(bad)} must start with '/' (e.g. /docs)")
    return paths
