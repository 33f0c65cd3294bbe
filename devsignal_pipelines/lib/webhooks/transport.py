"""A connection pool that only ever connects to addresses the SSRF check approved.

httpcore (the engine under httpx) takes a network backend; ours maps each checked
(host, port) to its checked addresses and refuses anything else. The URL keeps its host name,
so the Host header, TLS server name and certificate check are the receiver's, while the TCP
connection goes to the pinned address: a DNS answer that changes after the check is never used.
httpcore follows no redirects, so a 3xx is just a response.
"""

from __future__ import annotations

import ssl
import typing

import certifi
import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream


class PinnedBackend(AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self.pins: dict[tuple[str, int], tuple[str, ...]] = {}

    def pin(self, host: str, port: int, addresses: tuple[str, ...]) -> None:
        self.pins[(host, port)] = addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        addresses = self.pins.get((host.strip("[]"), port))
        if not addresses:
            raise httpcore.ConnectError(f"{host}:{port} was not checked; refusing to connect")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, *args: typing.Any, **kwargs: typing.Any
    ) -> AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_pool(backend: PinnedBackend, max_connections: int) -> httpcore.AsyncConnectionPool:
    return httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(cafile=certifi.where()),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
        network_backend=backend,
    )
