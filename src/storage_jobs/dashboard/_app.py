"""The dashboard application: routes, the access middleware and one ``Dashboard``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ._api import api_routes
from ._dashboard import HERE, Dashboard, QueueOpening, template_environment
from ._enqueue_api import EnqueueApi, ProducerRoutes
from ._pages import page_routes
from ._schedule_pages import schedule_routes
from ._security import Access, AccessMiddleware

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> Starlette:
    """The dashboard as an ASGI app: serve it, or mount it (``app.mount("/jobs", ...)``).

    Args:
        settings: The queue to show, and the ``dashboard_*`` settings (token, actions, hosts,
            secret, trusted proxies).
    """
    dashboard = Dashboard(
        settings=settings,
        access=Access.from_settings(settings),
        templates=template_environment(),
        log=structlog.get_logger("storage_jobs.dashboard"),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await dashboard.close()

    app = Starlette(
        routes=[
            *page_routes(),
            *schedule_routes(),
            *api_routes(),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[
            # Outermost: the queue is opened (a cluster detected) before anything reads Redis,
            # the access checks' sessions and secret included.
            Middleware(QueueOpening, dashboard=dashboard),
            # Then the enqueue API: it admits producer tokens only, never the dashboard's rules.
            Middleware(ProducerRoutes, api=EnqueueApi(dashboard)),
            Middleware(AccessMiddleware, dashboard=dashboard),
        ],
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    return app
