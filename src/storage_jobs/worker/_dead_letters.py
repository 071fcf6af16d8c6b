"""Dead letters of jobs arq fails before our code runs, kept instead of vanishing.

Undecodable payloads, unknown functions and jobs that crashed too often all end here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..queue import (
    DeadLetterStore,
    ErrorRecord,
    QueueKeys,
    decode,
    encode,
    parse_envelope,
    parse_result,
    peek_priority,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["TimedOut", "UnrunFailure", "keep_timed_out", "keep_unrun_failure"]


@dataclass(frozen=True)
class UnrunFailure:
    """What a job that failed before it could run was kept as.

    Attributes:
        function: The queue function it named, if readable.
        error_type: ``InvalidPayload`` (undecodable payload) or ``JobFailed``.
        message: What arq said.
        result_data: The result to store, saying what the dead letter says.
    """

    function: str | None
    error_type: str
    message: str
    result_data: bytes | None


async def keep_unrun_failure(
    redis: Redis, queue_name: str, job_id: str, result_data: bytes | None
) -> UnrunFailure:
    """Stores the dead letter of a job arq failed before running it."""
    raw = await redis.get(QueueKeys.job(job_id))
    function, attempts, message = None, 0, "failed before it could run"
    if result_data:
        outcome = parse_result(result_data)
        function, attempts = outcome.function, outcome.tries
        if isinstance(outcome.value, dict):
            message = outcome.error.message or message
    error_type = "InvalidPayload" if raw is not None and _undecodable(raw) else "JobFailed"
    await DeadLetterStore(redis, queue_name).add(
        job_id=job_id,
        function=function,
        raw_payload=raw,
        error_type=error_type,
        message=message,
        attempts=attempts,
        priority=peek_priority(raw) if raw is not None else None,
    )
    if error_type == "InvalidPayload" and result_data:
        # The result is what producers read first: say what the dead letter says.
        with contextlib.suppress(ValueError, TypeError):
            result = decode(result_data)
            result["r"] = ErrorRecord(error_type=error_type, message=message).model_dump()
            result_data = encode(result)
    return UnrunFailure(function, error_type, message, result_data)


def _undecodable(raw: bytes) -> bool:
    try:
        decode(raw)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class TimedOut:
    """A job arq cancelled at the job timeout, as it was dead-lettered.

    Attributes:
        message: What the dead letter says.
        attempts: Attempts made.
    """

    message: str
    attempts: int


async def keep_timed_out(
    redis: Redis, queue_name: str, job_id: str, result_data: bytes, timeout_s: float
) -> TimedOut | None:
    """Dead-letters a job arq failed for good at the job timeout (our runtime never saw it).

    Returns:
        What was kept, or None when the result is no such failure or a dead letter exists
        (the runtime dead-letters every failure it sees itself).
    """
    outcome = parse_result(result_data)
    if outcome.success or outcome.error.error_type != "TimeoutError":
        return None
    store = DeadLetterStore(redis, queue_name)
    if await store.get(job_id) is not None:
        return None
    raw = await redis.get(QueueKeys.job(job_id))
    priority = peek_priority(raw) if raw is not None else None
    if raw is not None:
        with contextlib.suppress(ValueError):
            raw = parse_envelope(raw).payload.encode()  # the payload, as the runtime keeps it
    message = f"cancelled after the job timeout ({timeout_s:g} s)"
    await store.add(
        job_id=job_id,
        function=outcome.function,
        raw_payload=raw,
        error_type="TimeoutError",
        message=message,
        attempts=outcome.tries,
        priority=priority,
    )
    return TimedOut(message, outcome.tries)
