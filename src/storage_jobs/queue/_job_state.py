"""Where a job's crash-safe state lives: Redis, under keys derived from the job's id."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._delete_state import KEEP_AFTER_DONE, RedisDeleteState
from ._progress import RedisProgressStore

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._scripts import Scripts

__all__ = ["STATE_TTL", "RedisJobState"]

STATE_TTL = 7 * 24 * 3600
"""Seconds a job's persisted state outlives its last write."""


class RedisJobState:
    """``jobs.JobState`` over one Redis connection."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl: int = STATE_TTL,
        queue: str | None = None,
        queue_of: Callable[[str], str] | None = None,
        result_ttl: float | None = None,
        scripts: Scripts | None = None,
    ) -> None:
        """Binds the state to a connection.

        Args:
            redis: The connection.
            ttl: Seconds state outlives its last write while the job runs.
            queue: The queue prefix jobs started here are indexed under (for the dashboard).
            queue_of: Instead of ``queue``: the shard a prefix job is indexed under, by its id.
            result_ttl: The queue's result TTL: a finished delete's state is kept no longer.
            scripts: The queue's scripts on ``redis``; None: each progress store registers its own.
        """
        self.redis = redis
        self.ttl = ttl
        self.queue = queue
        self.queue_of = queue_of
        self.scripts = scripts
        keep = KEEP_AFTER_DONE if result_ttl is None else min(KEEP_AFTER_DONE, int(result_ttl))
        self.keep_after_done = max(1, keep)

    def progress(self, migration_id: str) -> RedisProgressStore:
        """The progress store of a prefix job."""
        queue = self.queue_of(migration_id) if self.queue_of is not None else self.queue
        return RedisProgressStore(self.redis, migration_id, queue=queue, scripts=self.scripts)

    def delete(self, job_id: str, scope: str) -> RedisDeleteState:
        """The state of one bulk delete of a job."""
        return RedisDeleteState(self.redis, job_id, scope, self.ttl, self.keep_after_done)
