"""Heartbeats: each worker's own (arq has one health key per queue), in the shared model."""

from __future__ import annotations

import os
import socket
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ..queue import Heartbeat

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["Heartbeats"]


class Heartbeats:
    """Writes one worker's heartbeat every ``interval`` seconds at most."""

    def __init__(self, worker_id: str, interval: float, max_jobs: int) -> None:
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
        queue: Queue,
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
        await queue.heartbeat(beat, ttl=self.interval * 3, also=arq_health_key)

    async def stop(self, queue: Queue) -> None:
        """Removes the heartbeat so the worker stops counting as live."""
        await queue.remove_heartbeat(self.worker_id)


def _version() -> str | None:
    try:
        return version("storage-jobs")
    except PackageNotFoundError:
        return None
