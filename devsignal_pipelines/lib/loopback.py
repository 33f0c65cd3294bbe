"""Serve an ASGI app on 127.0.0.1 from a background thread (the sandbox, `make demo`, tests).

Binds the port before the server starts (0 = a free one, known at once) and returns from
`start()` only when `health_path` answers 200, so callers never race the server's startup.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from types import TracebackType
from typing import Any

import uvicorn

_STARTUP_TIMEOUT_S = 10.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies


class LoopbackServer:
    def __init__(self, app: Any, health_path: str, port: int = 0, name: str = "server") -> None:
        self.app = app
        self.health_path = health_path
        self.name = name
        self._port = port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._socket is None:
            raise RuntimeError(f"the {self.name} is not started")
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def start(self) -> LoopbackServer:
        if self._thread is not None:
            raise RuntimeError(f"the {self.name} is already started")
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
            name=f"{self.name}-{self._socket.getsockname()[1]}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_healthy()
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        url = f"{self.base_url}{self.health_path}"
        while time.monotonic() < deadline:
            assert self._thread is not None
            if not self._thread.is_alive():
                raise RuntimeError(f"the {self.name} thread died while starting")
            try:
                with _DIRECT.open(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"the {self.name} did not answer {url} within {_STARTUP_TIMEOUT_S}s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
