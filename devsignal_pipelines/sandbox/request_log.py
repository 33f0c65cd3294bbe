"""An in-memory log of the API requests the sandbox answered, for tests to assert on.

Only the method, path, query parameters, status and time are kept: never headers, so bearer
tokens never reach the log. The sandbox's own ``/_sandbox/*`` control routes are not logged.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from devsignal_pipelines.sandbox.state import SandboxState

CONTROL_PREFIX = "/_sandbox"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: dict[str, str]  # query parameters; a repeated one keeps its last value
    status: int
    timestamp: float  # epoch seconds when the request arrived

    def to_json(self) -> dict:
        return asdict(self)


class RequestLogMiddleware:
    """Pure ASGI middleware (no per-request task overhead) that records each API request."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        arrived = time.time()
        status = 500  # what the client sees if the app fails before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            params = dict(
                parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            )
            self.state.log_request(
                LoggedRequest(scope["method"], scope["path"], params, status, arrived)
            )
