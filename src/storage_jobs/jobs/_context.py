"""What a job function gets to work with: no arq, no settings parsing, just its tools."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ._job_control import JobControl, NoControl
from ._limits import JobLimits
from ._retry import RetryPolicy
from ._state import JobState

if TYPE_CHECKING:
    from ..storage import StorageClient

__all__ = ["Enqueue", "FailedJob", "JobContext"]

Enqueue = Callable[[Sequence[tuple[BaseModel, str]]], Awaitable[list[bool]]]


@dataclass(frozen=True)
class FailedJob:
    """A job that failed for good (or was cancelled): its payload (if kept), code and message."""

    payload: str | None
    code: str
    message: str
    cancelled: bool = False


@dataclass(frozen=True)
class JobContext:
    """The tools one job run gets.

    Attributes:
        job_id: The job's id (keys of its persisted state derive from it).
        attempt: 1 for the first run, more after retries or crashes.
        storage: The worker's pooled storage client.
        state: Where state that must survive a crash is kept.
        limits: Configured limits (upload roots, caps).
        retry: Attempts and backoff of per-key delete rounds inside a job.
        object_retry: Attempts and backoff of one migrated object inside a batch.
        log: A structlog logger bound with the job's id and kind.
        enqueue: Enqueues follow-up jobs under given ids (``[(job, job_id), ...]``) and says,
            per job, whether it was new; ``None`` where fan-out is unavailable.
        source: Opens (once per process) the storage client of a named source profile.
        failed_job: Says whether a job (by id) failed for good, and how.
        report_bucket: Where completion reports go (None: the job's destination bucket).
        report_prefix: Key prefix of completion reports.
        control: Whether the job is cancelled or paused, polled at safe points.
        relay_after_s: Seconds after which a coordinator waiting on restores hands itself on
            (re-queued due now, its attempt given back) before the job timeout ends its run.
    """

    job_id: str
    attempt: int
    storage: StorageClient
    state: JobState
    limits: JobLimits
    retry: RetryPolicy
    log: Any
    object_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=3))
    enqueue: Enqueue | None = None
    source: Callable[[str], Awaitable[StorageClient]] | None = None
    failed_job: Callable[[str], Awaitable[FailedJob | None]] | None = None
    report_bucket: str | None = None
    report_prefix: str = "storage-jobs-reports/"
    control: JobControl = field(default_factory=NoControl)
    relay_after_s: float | None = None
