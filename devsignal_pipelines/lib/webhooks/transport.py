"""A connection pool that only ever connects to addresses the SSRF check approved.

httpcore (the engine under httpx) takes a network backend; ours maps each checked
(host, port) to its checked addresses and refuses anything else. The URL keeps its host name,
so the Host header, TLS server name and certificate check are the receiver's, while the TCP
connection goes to the pinned address: a DNS answer that changes after the check is never used.
httpcore follows no redirects, so a 3xx is just a response.
"""

from __future__ import annotations

import socket
import ssl
import sys
import typing

import certifi
import httpcore
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._utils import is_socket_readable

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries `import sniffio` on every request; without the package each try searches
    # sys.path again (about 0.3 ms). A None entry is Python's way of saying "not installed",
    # answered at once: the same behaviour, 5x the delivery throughput.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


class _Stream(AsyncNetworkStream):
    """httpcore's anyio stream with its socket looked up once.

    The pool asks every idle connection "is_readable" on every request; anyio answers through
    a freshly built attribute table (several syscalls). Caching the socket makes that one poll.
    """

    def __init__(self, inner: AsyncNetworkStream):
        self._inner = inner
        self._info: dict[str, typing.Any] = {}

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self.get_extra_info("socket"))
        if info not in self._info:
            self._info[info] = self._inner.get_extra_info(info)
        return self._info[info]


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
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _Stream(stream)
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
        # Headers and body go out as two writes: without NODELAY, Nagle plus delayed ACKs stall
        # each request ~40 ms.
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
