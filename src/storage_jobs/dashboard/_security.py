"""Access to the dashboard: the token (login cookie or bearer header), CSRF, security headers.

With ``STORAGE_JOBS_DASHBOARD_TOKEN`` set, every page and API call needs either a session
cookie set by the login form (signed with a key derived from the token, so every dashboard
instance with the same token accepts it) or ``Authorization: Bearer <token>``. Every POST made
with a cookie carries a CSRF token bound to the session; a bearer caller needs none, since a
browser never sends that header by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

if TYPE_CHECKING:
    from pydantic import SecretStr
    from starlette.types import ASGIApp

__all__ = [
    "COOKIE",
    "SECURITY_HEADERS",
    "Access",
    "AccessMiddleware",
    "checked_form",
    "local_path",
]

COOKIE = "sj_dashboard"
SESSION_MAX_AGE = 12 * 3600
"""Seconds a login lasts."""

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


@dataclass(frozen=True)
class Access:
    """The dashboard's access rules: its token (if any), signing key and whether actions run."""

    token: str | None
    actions_enabled: bool
    key: bytes

    @classmethod
    def build(cls, token: SecretStr | None, actions_enabled: bool) -> Access:
        """Rules for a token (None or empty: open, for loopback use only)."""
        value = token.get_secret_value() if token is not None else ""
        if value:
            key = hmac.new(value.encode(), b"storage-jobs-dashboard-cookie", hashlib.sha256)
            return cls(token=value, actions_enabled=actions_enabled, key=key.digest())
        return cls(token=None, actions_enabled=actions_enabled, key=secrets.token_bytes(32))

    @property
    def serializer(self) -> URLSafeTimedSerializer:
        """Signs and checks session cookies."""
        return URLSafeTimedSerializer(self.key, salt="session")

    def token_matches(self, offered: str) -> bool:
        """Constant-time comparison with the configured token."""
        return self.token is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def csrf_for(self, sid: str) -> str:
        """The CSRF token of a session."""
        return hmac.new(self.key, f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def local_path(request: Request) -> str:
    """The path inside the dashboard (Starlette keeps a mount's prefix in ``path``)."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class AccessMiddleware(BaseHTTPMiddleware):
    """Reads the session, enforces the token and sets the security headers on every answer."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        super().__init__(app)
        self.access = access

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Lets the request through, or answers 401 (API) / redirects to the login form."""
        access = self.access
        session: dict[str, Any] | None = None
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                loaded = access.serializer.loads(raw, max_age=SESSION_MAX_AGE)
                session = loaded if isinstance(loaded, dict) else None
            except BadSignature:
                session = None
        fresh = session is None or not isinstance(session.get("sid"), str)
        if fresh:
            session = {"sid": secrets.token_urlsafe(24), "auth": False}
        assert session is not None
        bearer = _bearer(request)
        by_bearer = bearer is not None and access.token_matches(bearer)
        authenticated = access.token is None or by_bearer or session.get("auth") is True
        request.state.session = session
        request.state.by_bearer = by_bearer
        request.state.authenticated = authenticated
        request.state.csrf = access.csrf_for(session["sid"])
        path = local_path(request)
        if authenticated or path.startswith(_PUBLIC):
            response = await call_next(request)
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
                access.serializer.dumps(request.state.session),
                max_age=SESSION_MAX_AGE,
                path=root,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
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
