"""Reading where a job is: its status, its stored result, and who holds its lease."""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from ._control import control_keys
from ._dead_letters import DeadLetterStore
from ._keys import QueueKeys
from ._wire import ErrorRecord, ResultRecord, parse_result

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["JobStatus", "lease_holder", "read_outcome", "read_status"]


class JobStatus(enum.StrEnum):
    """Where a job is."""

    QUEUED = "queued"
    DEFERRED = "deferred"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """Not started before its ``expires``: it never ran (``JobExpiredError``)."""
    PAUSED = "paused"
    """A batch of a paused prefix job, parked off the queue until it is resumed."""
    NOT_FOUND = "not_found"


async def read_status(redis: Redis, queue: str, job_id: str) -> JobStatus:
    """Reads a job's status in one round trip."""
    keys = QueueKeys(queue)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.exists(keys.in_progress(job_id))
        pipe.hexists(keys.dead_data, job_id)
        pipe.zscore(control_keys(job_id)[3], job_id)
        for lane in keys.lanes:  # a queued job waits in one of them
            pipe.zscore(lane, job_id)
        result, in_progress, dead, parked, *scores = await pipe.execute()
    score = next((s for s in scores if s is not None), None)
    if result is not None:
        outcome = parse_result(result)
        if outcome.cancelled:
            return JobStatus.CANCELLED
        if outcome.expired:
            return JobStatus.EXPIRED
        return JobStatus.COMPLETE if outcome.success else JobStatus.FAILED
    if in_progress:
        return JobStatus.IN_PROGRESS
    if score is not None:
        return JobStatus.DEFERRED if score > time.time() * 1000 else JobStatus.QUEUED
    if parked is not None:
        return JobStatus.PAUSED
    return JobStatus.FAILED if dead else JobStatus.NOT_FOUND


async def read_outcome(redis: Redis, queue: str, job_id: str) -> ResultRecord | None:
    """The job's final outcome, or None while it may still run.

    A stored result decides. Without one, a dead letter whose job is no longer queued (a job
    failed before arq could store a result, or whose result expired) reads as a failure.
    """
    keys = QueueKeys(queue)
    raw = await cast(Awaitable[bytes | None], redis.get(keys.result(job_id)))
    if raw is not None:
        return parse_result(raw)
    letter = await DeadLetterStore(redis, queue).get(job_id)
    if letter is None or await redis.exists(keys.job(job_id)):
        return None
    error = ErrorRecord(error_type=letter.error_type, code=letter.code, message=letter.message)
    return ResultRecord(False, letter.function, error.model_dump(), letter.attempts)


async def lease_holder(redis: Redis, job_id: str) -> str | None:
    """The id of the worker whose lease on the job is live, if any."""
    raw = await cast(Awaitable[bytes | None], redis.get(QueueKeys.in_progress(job_id)))
    return None if raw is None else raw.decode(errors="replace")
