"""What a job function gets to work with: no arq, no settings parsing, just its tools."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._limits import JobLimits
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..storage import StorageClient

__all__ = ["Enqueue", "FailedJob", "JobContext", "state_key"]

Enqueue = Callable[[Sequence[tuple[BaseModel, str]]], Awaitable[list[bool]]]


@dataclass(frozen=True)
class FailedJob:
    """A job that failed for good: its payload (if kept), error code and message."""

    payload: str | None
    code: str
    message: str


def state_key(job_id: str, name: str) -> str:
    """The Redis key of one piece of a job's crash-safe state."""
    return f"storage-jobs:state:{job_id}:{name}"


@dataclass(frozen=True)
class JobContext:
    """The tools one job run gets.

    Attributes:
        job_id: The job's id (keys of its persisted state derive from it).
        attempt: 1 for the first run, more after retries or crashes.
        storage: The worker's pooled storage client.
        redis: Redis, for state that must survive a crash.
        limits: Configured limits (upload roots, caps).
        retry: Backoff policy for per-key retries inside a job.
        log: A structlog logger bound with the job's id and kind.
        enqueue: Enqueues follow-up jobs under given ids (``[(job, job_id), ...]``) and says,
            per job, whether it was new; ``None`` where fan-out is unavailable.
        source: Opens (once per process) the storage client of a named source profile.
        failed_job: Says whether a job (by id) failed for good, and how.
        report_bucket: Where completion reports go (None: the job's destination bucket).
        report_prefix: Key prefix of completion reports.
        state_ttl: Seconds a job's persisted state outlives its last write.
    """

    job_id: str
    attempt: int
    storage: StorageClient
    redis: Redis
    limits: JobLimits
    retry: RetryPolicy
    log: Any
    enqueue: Enqueue | None = None
    source: Callable[[str], Awaitable[StorageClient]] | None = None
    failed_job: Callable[[str], Awaitable[FailedJob | None]] | None = None
    report_bucket: str | None = None
    report_prefix: str = "storage-jobs-reports/"
    state_ttl: int = 7 * 24 * 3600
