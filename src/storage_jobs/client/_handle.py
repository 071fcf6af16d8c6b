"""JobHandle: a job's id, and the way to its status and typed result."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .._keys import QueueKeys
from ..deadletters import DeadLetterStore
from ..jobs import CopyResult, DeleteResult, UploadResult, spec_for_name
from ..worker import decode

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["JobFailedError", "JobHandle", "JobStatus", "read_status"]

AnyResult = UploadResult | CopyResult | DeleteResult


class JobStatus(enum.StrEnum):
    """Where a job is."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"
    NOT_FOUND = "not_found"


class JobFailedError(Exception):
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


async def read_status(redis: Redis, queue: str, job_id: str) -> JobStatus:
    """Reads a job's status in one round trip (plus one for dead letters when unknown)."""
    keys = QueueKeys(queue)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.exists(keys.in_progress(job_id))
        pipe.zscore(queue, job_id)
        pipe.hexists(keys.dead_data, job_id)
        result, in_progress, score, dead = await pipe.execute()
    if result is not None:
        try:
            ok = bool(decode(result).get("s"))
        except ValueError:
            ok = False
        return JobStatus.COMPLETE if ok else JobStatus.FAILED
    if in_progress:
        return JobStatus.IN_PROGRESS
    if score is not None:
        return JobStatus.DEFERRED if score > time.time() * 1000 else JobStatus.QUEUED
    return JobStatus.FAILED if dead else JobStatus.NOT_FOUND


@dataclass(frozen=True)
class JobHandle:
    """A job on the queue.

    Attributes:
        job_id: The job's id.
        enqueued: False when a job with this id already existed, so this call added nothing.
    """

    job_id: str
    enqueued: bool
    queue_name: str
    redis: Redis = field(repr=False, compare=False)

    async def status(self) -> JobStatus:
        """The job's current status."""
        return await read_status(self.redis, self.queue_name, self.job_id)

    async def result(self, timeout: float | None = None, *, poll_interval: float = 0.05) -> Any:
        """Waits for the job to finish and returns its typed result.

        Args:
            timeout: Seconds to wait; ``None`` waits forever.
            poll_interval: First wait between checks (grows to 0.5 s).

        Returns:
            The result model of the job's kind (UploadResult, CopyResult, DeleteResult...).

        Raises:
            JobFailedError: If the job failed for good.
            TimeoutError: If it did not finish in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        keys = QueueKeys(self.queue_name)
        while True:
            raw = await cast(Awaitable[bytes | None], self.redis.get(keys.result(self.job_id)))
            if raw is not None:
                return _typed_result(self.job_id, decode(raw))
            letter = await DeadLetterStore(self.redis, self.queue_name).get(self.job_id)
            if letter is not None and not await self.redis.exists(keys.job(self.job_id)):
                raise JobFailedError(self.job_id, letter.error_type, letter.message, letter.code)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.job_id} did not finish within {timeout} s")
            wait = interval if deadline is None else min(interval, deadline - time.monotonic())
            await asyncio.sleep(max(wait, 0))
            interval = min(interval * 1.5, 0.5)


def _typed_result(job_id: str, data: dict[str, Any]) -> Any:
    value = data.get("r")
    if not data.get("s"):
        error = value if isinstance(value, dict) else {}
        raise JobFailedError(
            job_id,
            str(error.get("error_type", "JobFailed")),
            str(error.get("message", "")),
            error.get("code"),
        )
    spec = spec_for_name(str(data.get("f")))
    if spec is None:
        return value
    return spec.result_model.model_validate(value)
