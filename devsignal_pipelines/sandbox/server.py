"""Run the sandbox as a real HTTP server: in a background thread (tests, demo) or blocking (CLI).

Tests talk to it over real sockets so the connector's HTTP stack, retries and rate-limit waits
are exercised exactly as against X.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType

import uvicorn

from devsignal_pipelines.sandbox.app import build_app
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.world import World, generate_world

_STARTUP_TIMEOUT_S = 10.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies


class SandboxServer:
    """``with SandboxServer(world) as server: httpx.get(server.base_url + ...)``.

    Binds 127.0.0.1 on ``port`` (0 = a free port, known before the server starts), serves from a
    daemon thread, and returns from ``start()`` only once ``/_sandbox/health`` answers.
    """

    def __init__(
        self,
        world: World,
        faults: Faults | None = None,
        tokens: Iterable[str] = ("sandbox-token",),
        port: int = 0,
    ) -> None:
        self.app = build_app(world, faults, tokens)
        self.state: SandboxState = self.app.state.sandbox
        self._port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the sandbox server is not started")
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def start(self) -> SandboxServer:
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already started")
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self._port))
        # log_config=None: leave the host process's logging (pytest, Dagster) alone.
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sandbox-{self._socket.getsockname()[1]}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        url = f"{self.base_url}{CONTROL_PREFIX}/health"
        while time.monotonic() < deadline:
            assert self._thread is not None
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server thread died while starting")
            try:
                with _DIRECT.open(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"the sandbox server did not answer {url} within {_STARTUP_TIMEOUT_S}s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    port: int,
    seed: int,
    scale: float,
    faults: Faults,
    tokens: Iterable[str],
    anchor: datetime | None,
    tweets: int | None = None,
) -> None:
    """Generate the world of (seed, scale, anchor, tweets); serve it on 127.0.0.1 until killed."""
    world = generate_world(seed=seed, scale=scale, anchor=anchor, tweets=tweets)
    app = build_app(world, faults, tokens)
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="info", access_log=False, lifespan="off"
    )
