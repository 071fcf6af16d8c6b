"""What one dashboard app shares between requests: settings, access rules, templates, a Queue."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..queue import Queue, connect_redis, open_queue, queue_on
from ._actions import Actions
from ._reads import Reader
from ._security import Access

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..settings import Settings

__all__ = ["HERE", "Dashboard", "dashboard_of", "template_environment"]

HERE = Path(__file__).parent


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _when(ts: float | None) -> str:
    return "" if not ts else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + "Z"


def _bytes(n: float | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"


def _num(n: float | None) -> str:
    return "" if n is None else f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


@dataclass
class Dashboard:
    """What every request of one dashboard app shares (kept on ``app.state``, not globally)."""

    settings: Settings
    access: Access
    templates: Environment
    log: Any
    _queue: Queue | None = field(default=None, repr=False)

    @property
    def queue(self) -> Queue:
        """The app's ``Queue`` on its connection, opened on first use.

        A mounted app gets no lifespan; every request shares it, and so its scripts.
        """
        if self._queue is None:  # outside a request (``QueueOpening`` opens it before each)
            redis = connect_redis(self.settings, socket_connect_timeout=5, socket_timeout=30)
            self._queue = queue_on(redis, self.settings)
        return self._queue

    async def open(self) -> None:
        """Opens the queue (a cluster detected, the shard count checked) if not open yet."""
        if self._queue is None:
            self._queue = await open_queue(
                self.settings, socket_connect_timeout=5, socket_timeout=30
            )

    @property
    def redis(self) -> Redis:
        """The app's Redis connection (the ``Queue``'s)."""
        return self.queue.redis

    @property
    def reader(self) -> Reader:
        """The read side."""
        return Reader(self.queue, self.settings)

    def actions(self, request: Request) -> Actions:
        """The action side, logging who asked (a bearer caller or a session)."""
        who = "bearer" if request.state.by_bearer else "session"
        client = request.client.host if request.client else None
        return Actions(self.queue, self.settings, self.log.bind(via_auth=who, client=client))

    async def close(self) -> None:
        """Closes the Redis connection, if one was opened."""
        if self._queue is not None:
            await self._queue.redis.aclose()
            self._queue = None


def dashboard_of(request: Request) -> Dashboard:
    """The dashboard serving a request."""
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def template_environment() -> Environment:
    """The pages' Jinja2 environment (autoescaped) with the dashboard's filters."""
    templates = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,  # shipped templates do not change: no stat per render
    )
    templates.filters.update(age=_age, when=_when, bytes=_bytes, num=_num)
    return templates


class QueueOpening:
    """ASGI middleware: the dashboard's queue is opened before a request reads it.

    Opening asks the server whether it is a cluster, which a property cannot await.
    """

    def __init__(self, app: ASGIApp, dashboard: Dashboard) -> None:
        self.app = app
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.dashboard.open()
        await self.app(scope, receive, send)
