"""`devsignal api`: one Starlette app for the organization-facing HTTP API.

- `/v1/*`: the Segment HTTP Tracking API (api/tracking.py), for product events;
- `/api/v1/{companies,contacts,deals}/{id}`: CRM upserts (api/crm.py);
- `/api/v1/webhooks/*`: REST-hook subscriptions for Zapier / Make (api/webhooks.py);
- `/api/v1/api-keys`: the organization's own API keys: list, create, revoke (api/keys.py).
Every route authenticates with an organization API key (`devsignal orgs api-key ORG`), which
decides the organization: one tenant can neither see nor touch another's data.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devsignal_pipelines.api.auth import DEFAULT_TTL_S, KeyCache
from devsignal_pipelines.api.crm import CrmRoutes
from devsignal_pipelines.api.keys import ApiKeyRoutes
from devsignal_pipelines.api.tracking import TrackingRoutes
from devsignal_pipelines.api.webhooks import PREFIX, webhook_routes
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings, load_webhook_settings
from devsignal_pipelines.settings import load_settings

__all__ = ["PREFIX", "create_app"]


def create_app(
    control: ControlDB | None = None,
    settings: Callable[[], WebhookSettings] = load_webhook_settings,
    key_ttl_s: float = DEFAULT_TTL_S,
) -> Starlette:
    db = control or ControlDB(load_settings().control_db_url)
    db.create_all()
    keys = KeyCache(db, key_ttl_s)
    tracking = TrackingRoutes(db, keys)
    app = Starlette(
        routes=[
            Route("/healthz", _health, methods=["GET"]),
            *tracking.routes(),
            *CrmRoutes(db, keys).routes(),
            *webhook_routes(db, keys, settings),
            *ApiKeyRoutes(db, keys).routes(),
        ]
    )
    app.state.intake_writer = tracking.writer
    return app


async def _health(request: Request) -> JSONResponse:
    """For load balancers and `make demo`: the process answers (no store is touched)."""
    return JSONResponse({"ok": True})
