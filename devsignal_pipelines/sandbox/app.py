"""Compose the sandbox route modules into one Starlette app around one shared state.

A vendor API is a route module: a function ``(SandboxState) -> list[BaseRoute]``. Adding Stack
Exchange or enrichment endpoints means writing such a module and listing it in ``ROUTE_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from devsignal_pipelines.sandbox.control import control_routes
from devsignal_pipelines.sandbox.enrichment.api import enrichment_routes
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.github.api import github_routes
from devsignal_pipelines.sandbox.request_log import RequestLogMiddleware
from devsignal_pipelines.sandbox.stackexchange.api import stackexchange_routes
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.world import World
from devsignal_pipelines.sandbox.x.api import x_routes

ROUTE_MODULES: tuple[Callable[[SandboxState], list[BaseRoute]], ...] = (
    x_routes,
    stackexchange_routes,
    enrichment_routes,
    github_routes,
)


def build_app(
    world: World, faults: Faults | None = None, tokens: Iterable[str] = ("sandbox-token",)
) -> Starlette:
    """The sandbox app; ``app.state.sandbox`` is its ``SandboxState`` (clock, log, limits)."""
    state = SandboxState(world, faults or Faults(), tokens)
    routes = control_routes(state)
    for module in ROUTE_MODULES:
        routes += module(state)
    app = Starlette(routes=routes, middleware=[Middleware(RequestLogMiddleware, state=state)])
    app.state.sandbox = state
    return app
