"""An HTTP client session that only ever connects to addresses the SSRF check approved.

aiohttp's connector asks a resolver for the addresses of a URL's host; ours resolves the host,
checks *every* address (`ssrf.check_addresses`) and answers with the checked addresses only,
remembered for the life of the session. So the TCP connection goes to a checked address and
a DNS answer that changes after the check is never used (no rebinding), while the URL keeps its
host name: the Host header, TLS server name (SNI) and certificate check are the receiver's.
IP-literal URLs never reach a resolver; `Sender` checks them (`PinnedResolver.check`) before
any request, like every other target. Redirects are never followed (`allow_redirects=False`),
proxies from the environment are ignored (`trust_env=False`) and no cookies are kept, so one
receiver's cookies can never travel to another tenant's endpoint on the same host.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl

import aiohttp
import certifi
from aiohttp.abc import AbstractResolver, ResolveResult

from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.ssrf import (
    Target,
    UnsafeTargetError,
    check_url_async,
    parse_url,
    resolve_and_check_async,
)


class PinnedResolver(AbstractResolver):
    """Resolves a host once per session, checks every address, and pins the answer."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self._checked: dict[tuple[str, int], tuple[str, ...] | UnsafeTargetError] = {}
        self._targets: dict[tuple[str, str, int], Target | UnsafeTargetError] = {}
        self._urls: dict[str, Target | UnsafeTargetError] = {}

    async def check(self, url: str) -> Target | UnsafeTargetError:
        """The checked target of `url` (once per scheme, host and port), or why it is refused."""
        known = self._urls.get(url)
        if known is None:
            known = self._urls[url] = await self._check(url)
        return known

    async def _check(self, url: str) -> Target | UnsafeTargetError:
        try:
            key = parse_url(url, self.settings)
        except UnsafeTargetError as exc:
            return exc
        if key not in self._targets:
            try:
                target = await check_url_async(url, self.settings)
            except UnsafeTargetError as exc:
                self._targets[key] = exc
            else:
                self._targets[key] = target
                self._checked.setdefault((target.host, target.port), target.addresses)
        return self._targets[key]

    async def _addresses(self, host: str, port: int) -> tuple[str, ...]:
        key = (host.rstrip("."), port)
        if key not in self._checked:
            try:
                self._checked[key] = await resolve_and_check_async(key[0], port, self.settings)
            except UnsafeTargetError as exc:
                self._checked[key] = exc
        answer = self._checked[key]
        if isinstance(answer, UnsafeTargetError):
            raise OSError(str(answer))  # the connector reports it as a connection error
        return answer

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results: list[ResolveResult] = []
        for address in await self._addresses(host, port):
            v6 = ipaddress.ip_address(address).version == 6
            if family not in (socket.AF_UNSPEC, socket.AF_INET6 if v6 else socket.AF_INET):
                continue
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": socket.AF_INET6 if v6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                }
            )
        if not results:
            raise OSError(f"{host} has no checked address of the requested family")
        return results

    async def close(self) -> None:
        self._checked.clear()
        self._targets.clear()
        self._urls.clear()


def pinned_session(
    resolver: PinnedResolver, max_connections: int, timeout_s: float
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=resolver,
        use_dns_cache=False,  # the resolver pins: one check per host and session
        family=socket.AF_UNSPEC,
        ssl=ssl.create_default_context(cafile=certifi.where()),
        limit=max_connections,
        limit_per_host=0,
        keepalive_timeout=30.0,
    )
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        # Bodies are read (bounded) only to reuse the connection: never inflated.
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding",),
        # The per-attempt deadline is the sender's; this only backs it up.
        timeout=aiohttp.ClientTimeout(total=timeout_s + 5),
        raise_for_status=False,
    )
