"""Test hooks under ``/_sandbox``: health, the server clock and the request log.

These are not part of any vendor API; they let tests and the demo drive and inspect a sandbox
running in another thread or process.
"""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.state import SandboxState


def control_routes(state: SandboxState) -> list[BaseRoute]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def get_clock(_: Request) -> Response:
        return JSONResponse({"now": state.now.isoformat()})

    async def set_clock(request: Request) -> Response:
        """Body ``{"now": "<ISO 8601>"}``; tweets created after the anchor appear as it passes."""
        try:
            payload = await request.json()
            now = datetime.fromisoformat(payload["now"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected a JSON body {"now": "<ISO 8601 time>"}'}, 400)
        state.set_clock(now)
        return JSONResponse({"now": state.now.isoformat()})

    async def get_requests(_: Request) -> Response:
        return JSONResponse([entry.to_json() for entry in state.requests])

    async def clear_requests(_: Request) -> Response:
        state.clear_requests()
        return Response(status_code=204)

    return [
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/clock", get_clock, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/clock", set_clock, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/requests", get_requests, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/requests", clear_requests, methods=["DELETE"]),
    ]
