"""Target URLs checked against server-side request forgery, and connections pinned to the check.

A URL is resolved and *every* address it resolves to must be public; the delivery then connects
to one of those checked addresses (never resolving again), so a DNS answer that changes between
the check and the connection (rebinding) cannot reach an internal service. The check runs when a
subscription is created and again before every delivery run (DNS can change).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from devsignal_pipelines.lib.webhooks.settings import IPNetwork, WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_EMBEDDED_IPV4 = (
    _NAT64,
    ipaddress.ip_network("::/96"),  # IPv4-compatible (deprecated, still routed by some stacks)
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeTargetError(ValueError):
    """A webhook URL that must not be called, with the reason.

    `public_message` is what an API client may see: it never says what a host name resolved
    to, so the API cannot be used to map internal DNS names.
    """

    def __init__(self, message: str, public_message: str | None = None):
        super().__init__(message)
        self.public_message = public_message or message


_NOT_PUBLIC = (
    "url's host does not resolve to public addresses only; webhooks only go to public addresses"
)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL (IDNA-encoded), for Host and TLS server name
    port: int
    addresses: tuple[str, ...]  # checked, in resolver order


def refusal(address: IPAddress) -> str | None:
    """Why an address is not a public unicast address, or None when it is."""
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = (
            address.ipv4_mapped
            or address.sixtofour
            or (
                # NAT64, IPv4-compatible ::a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d forms.
                ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
                if any(address in net for net in _EMBEDDED_IPV4) and int(address) > 1
                else None
            )
        )
        if address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            reason = refusal(embedded)
            return f"an IPv6 form of {embedded} ({reason})" if reason else None
        if address.is_loopback:
            return "IPv6 loopback"
        if address.is_link_local:
            return "IPv6 link-local"
        if address in ipaddress.ip_network("fc00::/7"):
            return "an IPv6 unique local (private) address"
        if address.is_site_local:
            return "an IPv6 site-local address"
    else:
        if address.is_loopback:
            return "loopback"
        if address.is_link_local:
            return "link-local"
        if address in _CGNAT:
            return "carrier-grade NAT (100.64.0.0/10)"
        if address.is_private:
            return "a private network"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "multicast"
    if not address.is_global:
        return "not a public address"
    return None


def _allowed(address: IPAddress, allowed: Iterable[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in allowed)


def parse_url(url: str, settings: WebhookSettings) -> tuple[str, str, int]:
    """(scheme, host, port) of a well-formed http(s) URL, or UnsafeTargetError."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTargetError("url is empty; give the full https:// URL of the receiver")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeTargetError("url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTargetError(f"url {url!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTargetError(
            f"url must start with https:// (or http://), got {scheme or 'no'} scheme"
        )
    if settings.require_https and scheme != "https":
        raise UnsafeTargetError("url must use https:// (DEVSIGNAL_WEBHOOK_REQUIRE_HTTPS is on)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTargetError("url must not contain a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTargetError(f"url {url!r} has no host")
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError:
        raise UnsafeTargetError(f"url host {host!r} is not a valid host name") from None
    return scheme, host, port or (443 if scheme == "https" else 80)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def check_addresses(
    host: str, addresses: Iterable[str], settings: WebhookSettings
) -> tuple[str, ...]:
    """Every address must be public (or explicitly allowed); returns them, deduplicated."""
    checked: list[str] = []
    for raw in addresses:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
        reason = refusal(address)
        if reason and not _allowed(address, settings.allowed_networks):
            subject = (
                str(address) if host == str(address) else f"{host} resolves to {address}, which"
            )
            raise UnsafeTargetError(
                f"refused: {subject} is {reason}; webhooks only go to public addresses "
                "(for local testing list the address in DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS)",
                public_message=None if host == str(address) else _NOT_PUBLIC,
            )
        if str(address) not in checked:
            checked.append(str(address))
    if not checked:
        raise UnsafeTargetError(f"{host} does not resolve to any address", _NOT_PUBLIC)
    return tuple(checked)


def _resolve_sync(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError(f"{host} cannot be resolved: {exc}", _NOT_PUBLIC) from None
    return [info[4][0] for info in infos]


def check_url(url: str, settings: WebhookSettings) -> Target:
    """Validate and resolve `url` now (subscribe time)."""
    scheme, host, port = parse_url(url, settings)
    addresses = [host] if _is_ip(host) else _resolve_sync(host, port)
    return Target(scheme, host, port, check_addresses(host, addresses, settings))


async def resolve_and_check_async(
    host: str, port: int, settings: WebhookSettings
) -> tuple[str, ...]:
    """Resolve `host` without blocking the event loop; every address must pass the check."""
    addresses = [host] if _is_ip(host) else await _resolve_async(host, port)
    return check_addresses(host, addresses, settings)


async def _resolve_async(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTargetError(f"{host} cannot be resolved: {exc}", _NOT_PUBLIC) from None
    return [info[4][0] for info in infos]


async def check_url_async(url: str, settings: WebhookSettings) -> Target:
    """check_url without blocking the event loop (delivery time)."""
    scheme, host, port = parse_url(url, settings)
    return Target(scheme, host, port, await resolve_and_check_async(host, port, settings))
