"""Leases: the worker's claim and lease renewal, a thin view of ``queue.Queue``'s.

The protocol (batched claims, lanes and their shares, reserved slots, the operator's markers,
renewals fenced by worker id) lives in ``queue._claim`` and its script ``queue/lua/claim.lua``.
``Leases`` keeps the interface the worker loop calls: it holds one ``LeaseHolder`` and runs its
claims and renewals through a ``Queue`` on the connection each call is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..queue import (
    MAX_CLAIM,
    SHARE_EVERY,
    Claim,
    Claimed,
    LeaseHolder,
    Priority,
    Queue,
    QueueKeys,
    reserved_lane,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MAX_CLAIM", "SHARE_EVERY", "Claim", "Claimed", "Leases", "reserved_lane"]


class Leases:
    """The leases one worker holds on one queue."""

    def __init__(self, queue_name: str, worker_id: str, lease_seconds: float) -> None:
        self.holder = LeaseHolder(queue_name, worker_id, lease_seconds)
        self._queue: Queue | None = None

    def _on(self, redis: Redis) -> Queue:
        if self._queue is None or self._queue.redis is not redis:
            self._queue = Queue(redis, self.holder.keys.queue, holder=self.holder)
        return self._queue

    @property
    def keys(self) -> QueueKeys:
        """The queue's keys."""
        return self.holder.keys

    @property
    def worker_id(self) -> str:
        """The holder's id (a lease's value)."""
        return self.holder.worker_id

    @property
    def lost(self) -> set[str]:
        """Running jobs whose lease was found taken."""
        return self.holder.lost

    async def claim(
        self, redis: Redis, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due, unheld jobs (``queue.Queue.claim``)."""
        return await self._on(redis).claim(want, now_ms, scan=scan, bulk=bulk)

    async def renew(self, redis: Redis, running: Iterable[str], now_ms: int) -> list[str]:
        """Renews the leases of running jobs; returns those newly found taken."""
        return await self._on(redis).renew(running, now_ms)

    def lane_of(self, job_id: str) -> Priority:
        """The lane a held job was taken from (``normal`` for one this worker did not claim)."""
        return self.holder.lane_of(job_id)

    def lane_key(self, job_id: str) -> str:
        """The sorted set of a held job's lane."""
        return self.holder.lane_key(job_id)

    def forget(self, job_id: str) -> bool:
        """Forgets a finished job; True if its lease had been lost."""
        return self.holder.forget(job_id)
