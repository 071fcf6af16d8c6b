"""Access to the dashboard: Host and Origin, the token (login or bearer), CSRF, headers.

Every request must name the dashboard in its Host header (``_hosts``), and every POST a
browser makes must come from one of its pages (Origin, else Referer). With
``STORAGE_JOBS_DASHBOARD_TOKEN`` set, every page and API call needs either a session cookie
(signed with a random secret, its login kept in Redis: ``_sessions``) or ``Authorization:
Bearer <token>``. Every POST made with a cookie carries a CSRF token bound to the session; a
bearer caller needs none, since a browser never sends that header by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.exceptions import ResponseError
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ..queue import QueueKeys
from ._hosts import HostRules
from ._sessions import SESSION_MAX_AGE, Sessions
from ._unreadable import cause_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from ..settings import Settings
    from ._dashboard import Dashboard

__all__ = [
    "COOKIE",
    "SECURITY_HEADERS",
    "Access",
    "AccessMiddleware",
    "checked_form",
    "local_path",
]

COOKIE = "sj_dashboard"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_PUBLIC = ("/login", "/static/")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Access:
    """The dashboard's access rules: token, actions switch, hosts and proxies, sessions."""

    token: str | None
    actions_enabled: bool
    hosts: HostRules
    sessions: Sessions

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        """Rules from ``dashboard_*`` settings (no token or an empty one: open, loopback only)."""
        token = settings.dashboard_token
        value = token.get_secret_value() if token is not None else ""
        return cls(
            token=value or None,
            actions_enabled=settings.dashboard_actions,
            hosts=HostRules.from_settings(settings),
            sessions=Sessions(QueueKeys(settings.queue_name), settings.dashboard_secret),
        )

    def token_matches(self, offered: str) -> bool:
        """Constant-time comparison with the configured token."""
        return self.token is not None and hmac.compare_digest(offered.encode(), self.token.encode())


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="session")


def _csrf(key: bytes, sid: str) -> str:
    return hmac.new(key, f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def local_path(request: Request) -> str:
    """The path inside the dashboard (Starlette keeps a mount's prefix in ``path``)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _refused(status: int, text: str) -> Response:
    response = PlainTextResponse(text, status_code=status)
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


class AccessMiddleware(BaseHTTPMiddleware):
    """Checks Host and Origin, reads the session, enforces the token, sets security headers."""

    def __init__(self, app: ASGIApp, dashboard: Dashboard) -> None:
        super().__init__(app)
        self.dashboard = dashboard

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Lets the request through, or refuses it (400/403, 401 for the API, else to login)."""
        access = self.dashboard.access
        if not access.hosts.host_allowed(request):
            return _refused(400, "unknown Host: add it to STORAGE_JOBS_DASHBOARD_HOSTS")
        if request.method not in _SAFE_METHODS and not access.hosts.origin_allowed(request):
            return _refused(403, "cross-origin request refused (Origin or Referer)")
        redis = self.dashboard.redis
        key = await access.sessions.secret(redis)
        session: dict[str, Any] | None = None
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                loaded = _serializer(key).loads(raw, max_age=SESSION_MAX_AGE)
                session = loaded if isinstance(loaded, dict) else None
            except BadSignature:
                session = None
        fresh = session is None or not isinstance(session.get("sid"), str)
        if fresh:
            session = {"sid": secrets.token_urlsafe(24), "auth": False}
        assert session is not None
        bearer = _bearer(request)
        by_bearer = bearer is not None and access.token_matches(bearer)
        by_session = (
            access.token is not None
            and session.get("auth") is True
            and await access.sessions.is_open(redis, session["sid"])
        )
        request.state.session = session
        request.state.by_bearer = by_bearer
        request.state.authenticated = access.token is None or by_bearer or by_session
        request.state.csrf = _csrf(key, session["sid"])
        request.state.client = access.hosts.client(request)
        path = local_path(request)
        if request.state.authenticated or path.startswith(_PUBLIC):
            try:
                response = await call_next(request)
            except (ResponseError, RecursionError) as exc:
                # A queue structure itself unreadable (items are shown as unreadable rows):
                # say what Redis holds, not an anonymous 500.
                response = _refused(503, f"unreadable data in Redis: {cause_of(exc)}")
        elif path.startswith("/api/"):
            response = JSONResponse({"detail": "authentication required"}, status_code=401)
            response.headers["WWW-Authenticate"] = "Bearer"
        else:
            root = request.scope.get("root_path", "")
            response = RedirectResponse(f"{root}/login", status_code=303)
        if fresh or getattr(request.state, "session_changed", False):
            root = request.scope.get("root_path", "") or "/"
            response.set_cookie(
                COOKIE,
                _serializer(key).dumps(request.state.session),
                max_age=SESSION_MAX_AGE,
                path=root,
                httponly=True,
                samesite="strict",
                secure=access.hosts.scheme(request) == "https",
            )
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


async def checked_form(request: Request, access: Access, *, action: bool) -> FormData:
    """The POSTed form once its CSRF token (and, for an action, the actions switch) is checked.

    Raises:
        HTTPException: 403 when actions are off or the CSRF token is missing or wrong.
    """
    if action and not access.actions_enabled:
        raise HTTPException(403, "the dashboard is read-only (STORAGE_JOBS_DASHBOARD_ACTIONS)")
    form = await request.form()
    if request.state.by_bearer:
        return form
    offered = form.get("csrf")
    if not isinstance(offered, str) or not hmac.compare_digest(offered, request.state.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")
    return form
