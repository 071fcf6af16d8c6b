"""Logins kept in Redis: the cookie-signing secret, open sessions and failed-login counts.

The secret is random (``STORAGE_JOBS_DASHBOARD_SECRET``, else generated once and kept in
Redis so every dashboard of the queue shares it): a cookie or CSRF token says nothing about
the dashboard token, so no guess can be tested offline. A cookie only names a session id; the
login is the session's key in Redis, so logging out ends it for every copy of the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..queue import QueueKeys, atomic

if TYPE_CHECKING:
    from pydantic import SecretStr
    from redis.asyncio import Redis

__all__ = ["LOGIN_FAILURES_ALLOWED", "LOGIN_FAILURE_WINDOW", "SESSION_MAX_AGE", "Sessions"]

SESSION_MAX_AGE = 12 * 3600
"""Seconds a login lasts."""

LOGIN_FAILURES_ALLOWED = 10
"""Failed logins one client address may make per window; the next attempts get HTTP 429."""

LOGIN_FAILURE_WINDOW = 60
"""Seconds over which failed logins are counted (from the first failure)."""


@dataclass
class Sessions:
    """The dashboard's secret, sessions and login throttle on one queue's Redis."""

    keys: QueueKeys
    configured: SecretStr | None
    _secret: bytes | None = field(default=None, repr=False)

    async def secret(self, redis: Redis) -> bytes:
        """The signing secret: configured, else the one in Redis (created by the first asker)."""
        if self._secret is None:
            if self.configured is not None and self.configured.get_secret_value():
                value = self.configured.get_secret_value().encode()
                self._secret = hashlib.sha256(b"storage-jobs-dashboard:" + value).digest()
            else:
                key = self.keys.dashboard_secret
                await redis.set(key, secrets.token_hex(32), nx=True)
                stored = await redis.get(key)
                if not stored:
                    raise RuntimeError(f"the dashboard secret at {key} could not be kept")
                self._secret = bytes.fromhex(stored.decode())
        return self._secret

    async def open(self, redis: Redis, sid: str) -> None:
        """Records a login under a fresh session id."""
        await redis.set(self.keys.dashboard_session(sid), b"1", ex=SESSION_MAX_AGE)

    async def is_open(self, redis: Redis, sid: str) -> bool:
        """Whether a session id is logged in (not logged out, not expired)."""
        return bool(await redis.exists(self.keys.dashboard_session(sid)))

    async def revoke(self, redis: Redis, sid: str) -> None:
        """Ends a login: every copy of its cookie stops working."""
        await redis.delete(self.keys.dashboard_session(sid))

    async def throttled(self, redis: Redis, client: str) -> bool:
        """Whether a client address has used up its failed logins for now."""
        count = await redis.get(self.keys.login_failures(client))
        return count is not None and int(count) >= LOGIN_FAILURES_ALLOWED

    async def failed(self, redis: Redis, client: str) -> int:
        """Counts a failed login of a client address; the count so far this window."""
        key = self.keys.login_failures(client)
        async with atomic(redis) as tx:  # MULTI on one server; a cluster has none
            tx.incr(key)
            tx.expire(key, LOGIN_FAILURE_WINDOW, nx=True)
            count, _ = await tx.execute()
        return int(count)
