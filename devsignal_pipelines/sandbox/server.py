"""Run the sandbox as a real HTTP server: in a background thread (tests, demo) or blocking (CLI).

Tests talk to it over real sockets so the connector's HTTP stack, retries and rate-limit waits
are exercised exactly as against X.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import uvicorn

from devsignal_pipelines.lib.loopback import LoopbackServer
from devsignal_pipelines.sandbox.app import build_app
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.world import World, generate_world


class SandboxServer(LoopbackServer):
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
        super().__init__(
            build_app(world, faults, tokens), f"{CONTROL_PREFIX}/health", port, name="sandbox"
        )
        self.state: SandboxState = self.app.state.sandbox

    def start(self) -> SandboxServer:
        super().start()
        return self

    def __enter__(self) -> SandboxServer:
        return self.start()


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
