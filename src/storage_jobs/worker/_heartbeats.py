"""Heartbeats: each worker's own (arq has one health key per queue), in the shared model."""

from __future__ import annotations

import os
import socket
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ..queue import Heartbeat, remove_heartbeat, write_heartbeat

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Heartbeats"]


class Heartbeats:
    """Writes one worker's heartbeat every ``interval`` seconds at most."""

    def __init__(self, queue_name: str, worker_id: str, interval: float, max_jobs: int) -> None:
        self.queue_name = queue_name
        self.worker_id = worker_id
        self.interval = interval
        self.max_jobs = max_jobs
        self.started_at = time.time()
        self.host = socket.gethostname()
        self.last = 0.0
        self.version = _version()

    def due(self, now: float) -> bool:
        """Whether a heartbeat is due."""
        return now - self.last >= self.interval

    async def beat(
        self,
        redis: Redis,
        *,
        complete: int,
        failed: int,
        retried: int,
        ongoing: int,
        arq_health_key: str,
    ) -> None:
        """Writes the heartbeat (and arq's per-queue health key); counts for three intervals."""
        now = time.time()
        self.last = now
        beat = Heartbeat(
            worker_id=self.worker_id,
            host=self.host,
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=now,
            jobs_complete=complete,
            jobs_failed=failed,
            jobs_retried=retried,
            jobs_ongoing=ongoing,
            max_jobs=self.max_jobs,
            version=self.version,
        )
        await write_heartbeat(
            redis, self.queue_name, beat, ttl=self.interval * 3, also=arq_health_key
        )

    async def stop(self, redis: Redis) -> None:
        """Removes the heartbeat so the worker stops counting as live."""
        await remove_heartbeat(redis, self.queue_name, self.worker_id)


def _version() -> str | None:
    try:
        return version("storage-jobs")
    except PackageNotFoundError:
        return None
