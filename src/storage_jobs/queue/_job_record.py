"""Everything Redis holds about one job, read in one round trip (the dashboard's job detail)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._control import control_keys
from ._dead_letters import DeadLetter
from ._keys import QueueKeys
from ._status import JobStatus
from ._wire import ResultRecord, decode, parse_envelope, parse_result, peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["JobRecord", "read_job"]


@dataclass(frozen=True)
class JobRecord:
    """One job as stored.

    Attributes:
        job_id: The id.
        status: Where it is (as ``read_status`` says).
        function: The queue function it names, when readable.
        payload: The job model's JSON, when readable (from the job, else its result).
        enqueued_at: Unix time it was enqueued.
        run_at: Unix time it is due, while it is in the queue.
        started_at: Unix time its last attempt started (finished jobs).
        finished_at: Unix time it finished.
        attempts: Attempts made or under way.
        lease_holder: The worker running it now.
        result: Its stored result.
        dead_letter: Its dead letter, if it has one.
    """

    job_id: str
    status: JobStatus
    function: str | None
    payload: str | None
    enqueued_at: float | None
    run_at: float | None
    started_at: float | None
    finished_at: float | None
    attempts: int
    lease_holder: str | None
    result: ResultRecord | None
    dead_letter: DeadLetter | None


def _seconds(value: object) -> float | None:
    return value / 1000 if isinstance(value, int | float) and value > 0 else None


async def read_job(redis: Redis, queue_name: str, job_id: str) -> JobRecord:
    """Reads a job's envelope, result, lease, queue score, dead letter and attempt counter."""
    keys = QueueKeys(queue_name)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.job(job_id))
        pipe.get(keys.result(job_id))
        pipe.get(keys.in_progress(job_id))
        pipe.hget(keys.dead_data, job_id)
        pipe.get(keys.retry(job_id))
        pipe.zscore(control_keys(job_id)[3], job_id)
        for lane in keys.lanes:  # a queued job waits in one of them
            pipe.zscore(lane, job_id)
        raw_job, raw_result, lease, raw_letter, retries, parked, *scores = await pipe.execute()
    score = next((s for s in scores if s is not None), None)
    letter = None if raw_letter is None else DeadLetter.model_validate_json(raw_letter)
    result = None if raw_result is None else parse_result(raw_result)
    function = payload = None
    enqueued = started = finished = None
    if raw_job is not None:
        function = peek_function(raw_job[:256])
        try:
            envelope = parse_envelope(raw_job)
            function, payload = envelope.function, envelope.payload
            enqueued = _seconds(envelope.enqueue_ms)
        except ValueError:
            pass  # a pickle or garbage: shown by its dead letter, if any
    if raw_result is not None:
        try:
            data = decode(raw_result)
        except ValueError:
            data = {}
        args = data.get("a")
        if payload is None and isinstance(args, list) and args and isinstance(args[0], str):
            payload = args[0]
        enqueued = enqueued or _seconds(data.get("et"))
        started, finished = _seconds(data.get("st")), _seconds(data.get("ft"))
    if letter is not None:
        function = function or letter.function
        finished = finished or letter.failed_at
    attempts = int(retries) if retries is not None else (result.tries if result else 0)
    if letter is not None:
        attempts = max(attempts, letter.attempts)
    return JobRecord(
        job_id=job_id,
        status=_status(result, lease, score, letter, parked is not None),
        function=function,
        payload=payload,
        enqueued_at=enqueued,
        run_at=None if score is None else float(score) / 1000,
        started_at=started,
        finished_at=finished,
        attempts=attempts,
        lease_holder=None if lease is None else lease.decode(errors="replace"),
        result=result,
        dead_letter=letter,
    )


def _status(
    result: ResultRecord | None,
    lease: bytes | None,
    score: float | None,
    letter: object,
    parked: bool,
) -> JobStatus:
    # The same order as read_status, from values already read.
    if result is not None:
        if result.cancelled:
            return JobStatus.CANCELLED
        return JobStatus.COMPLETE if result.success else JobStatus.FAILED
    if lease is not None:
        return JobStatus.IN_PROGRESS
    if score is not None:
        return JobStatus.DEFERRED if score > time.time() * 1000 else JobStatus.QUEUED
    if parked:
        return JobStatus.PAUSED
    return JobStatus.FAILED if letter is not None else JobStatus.NOT_FOUND
