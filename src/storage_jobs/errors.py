"""The package's own errors, under one root.

Hierarchy::

    StorageJobsError                 every error of storage-jobs' own
    ├── JobRejectedError             a job breaks a configured limit (also a ValueError); nothing
    │                                was enqueued (``field``)
    ├── JobFailedError               a job failed for good (``job_id``, ``error_type``, ``code``,
    │                                ``message``)
    ├── JobCancelledError            a job was cancelled by an operator (``job_id``, ``progress``)
    ├── JobExpiredError              a job was not started before its ``expires`` (``job_id``)
    ├── ReplayRefusedError           a dead letter was not replayed (``job_id``, ``reason``,
    │                                ``detail``)
    ├── TooManyDeletesError          a sync would delete more than ``max_delete`` extraneous
    │                                keys, so it deleted none (``count``, ``limit``)
    ├── FailureThresholdError        a prefix job stopped: too many of its keys failed
    │                                (``failed``, ``tasks``, ``ratio``)
    ├── QueueUnavailableError        Redis refused an enqueue (NOPERM, READONLY, ...); the
    │   │                            refused jobs were not written (``reason``, ``enqueued``)
    │   └── QueueFullError           Redis is at ``maxmemory`` (OOM under ``noeviction``)
    └── UnsafeRedisError             Redis may evict queue keys and the settings require it not
                                     to (``policy``)

The storage client keeps the reference API's own tree (``storage_jobs.storage.StorageError``);
redis-py's and pydantic's errors are mapped onto these where they cross our API.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FailureThresholdError",
    "JobCancelledError",
    "JobExpiredError",
    "JobFailedError",
    "JobRejectedError",
    "QueueFullError",
    "QueueUnavailableError",
    "ReplayRefusedError",
    "StorageJobsError",
    "TooManyDeletesError",
    "UnsafeRedisError",
]


class StorageJobsError(Exception):
    """The root of every error storage-jobs raises on its own account."""


class JobRejectedError(StorageJobsError, ValueError):
    """A job breaks a configured limit; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class JobFailedError(StorageJobsError):
    """A job failed for good.

    Attributes:
        job_id: The job's id.
        error_type: The failure's type (``InvalidPayload``, ``StorageAccessDeniedError``, ...).
        code: The storage error code, when there was one.
        message: What went wrong.
    """

    def __init__(self, job_id: str, error_type: str, message: str, code: str | None = None):
        super().__init__(f"job {job_id} failed: {error_type}: {message}")
        self.job_id = job_id
        self.error_type = error_type
        self.code = code
        self.message = message


class JobCancelledError(StorageJobsError):
    """A job was cancelled: it never ran, or stopped at a safe point.

    Attributes:
        job_id: The job's id.
        progress: What the job had done when it stopped (a ``DeleteJob``: ``deleted_count`` and
            ``deleted_keys``; a prefix job: its progress counters); empty if it never ran.
    """

    def __init__(self, job_id: str, progress: dict[str, Any] | None = None) -> None:
        super().__init__(f"job {job_id} was cancelled")
        self.job_id = job_id
        self.progress = dict(progress or {})


class JobExpiredError(StorageJobsError):
    """A job enqueued with ``expires`` was not started by then, so it never ran.

    Attributes:
        job_id: The job's id.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} expired before it started (it never ran)")
        self.job_id = job_id


class ReplayRefusedError(StorageJobsError):
    """A dead letter that was not replayed; it stays in the dead letters.

    Attributes:
        job_id: The job's id.
        reason: ``not_found``, ``invalid_payload``, ``rejected`` (breaks a configured limit) or
            ``in_flight`` (a job with this id is queued or running).
        detail: What exactly is wrong.
    """

    def __init__(self, job_id: str, reason: str, detail: str) -> None:
        super().__init__(f"job {job_id} not replayed: {reason}: {detail}")
        self.job_id = job_id
        self.reason = reason
        self.detail = detail


class TooManyDeletesError(StorageJobsError):
    """A sync found more extraneous destination keys than its ``max_delete``.

    Found when counting, it deleted none. Keys that appeared between the count and the deletes
    find the limit reached: the sync stops there, having deleted no more than ``max_delete``.

    Attributes:
        count: Extraneous keys found.
        limit: The ``max_delete`` they passed.
        deleted: Keys deleted before the limit was reached (0 when found by the count).
    """

    def __init__(self, count: int, limit: int, deleted: int = 0) -> None:
        done = f"deleted {deleted:,} and stopped" if deleted else "deleted none"
        super().__init__(f"{count} extraneous destination keys exceed max_delete={limit}; {done}")
        self.count = count
        self.limit = limit
        self.deleted = deleted


class FailureThresholdError(StorageJobsError):
    """A prefix job stopped because more than ``max_failure_ratio`` of its keys failed.

    Attributes:
        failed: Keys failed when the job stopped.
        tasks: Keys with an outcome (copied, skipped or failed) when it stopped.
        ratio: The ``max_failure_ratio`` crossed.
    """

    def __init__(self, failed: int, tasks: int, ratio: float) -> None:
        super().__init__(
            f"{failed} of {tasks} keys failed (more than {ratio:.0%}): stopped, the rest cancelled"
        )
        self.failed = failed
        self.tasks = tasks
        self.ratio = ratio


class QueueUnavailableError(StorageJobsError):
    """Redis refused an enqueue; the refused jobs were not written (each is all or nothing).

    The message names the Redis error's type and its first words only: redis-py puts the whole
    failed command (the job payload) into its message, and that never leaves this error, neither
    in ``str()`` nor in ``__cause__``/``__context__``.

    Attributes:
        reason: The Redis error's type and the first words of its message.
        enqueued: Ids of the jobs of the same call that were written before the failure.
    """

    def __init__(self, reason: str, enqueued: tuple[str, ...] = ()) -> None:
        written = f"{len(enqueued)} job(s) of this call were enqueued, the others not"
        super().__init__(f"enqueue failed: {reason}; {written if enqueued else 'nothing written'}")
        self.reason = reason
        self.enqueued = enqueued


class QueueFullError(QueueUnavailableError):
    """Redis is full (``maxmemory`` reached under ``noeviction``); retry once workers drain it."""


class UnsafeRedisError(StorageJobsError):
    """Redis's eviction policy may drop queue keys, and ``STORAGE_JOBS_REQUIRE_NOEVICTION`` is set.

    Attributes:
        policy: The ``maxmemory-policy`` read, or ``unknown``.
    """

    def __init__(self, policy: str, message: str) -> None:
        super().__init__(message)
        self.policy = policy
