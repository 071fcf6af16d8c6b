"""Dead letters of failures the runtime never saw: jobs that could not run, and timeouts.

The runtime (``_runtime``) dead-letters every failure of a handler it runs. Two kinds end
before or outside it, and are kept here instead of vanishing: a job the loop cannot start (its
payload expired or unreadable, its function unknown, its attempts spent) and a job the loop
cancelled at the job timeout.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ..queue import parse_envelope, peek_priority

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["keep_timed_out", "keep_unrun"]


async def keep_unrun(
    queue: Queue,
    *,
    job_id: str,
    raw: bytes | None,
    function: str | None,
    error_type: str,
    message: str,
    attempts: int,
) -> None:
    """Stores the dead letter of a job that failed before it could run, with its stored bytes."""
    await queue.dead_letters.add(
        job_id=job_id,
        function=function,
        raw_payload=raw,
        error_type=error_type,
        message=message,
        attempts=attempts,
        priority=peek_priority(raw) if raw is not None else None,
    )


async def keep_timed_out(
    queue: Queue,
    *,
    job_id: str,
    raw: bytes,
    function: str,
    message: str,
    attempts: int,
) -> bool:
    """Dead-letters a job cancelled at the job timeout, unless a dead letter exists already.

    Returns:
        Whether one was stored.
    """
    if await queue.dead_letters.get(job_id) is not None:
        return False
    payload = raw
    with contextlib.suppress(ValueError):
        payload = parse_envelope(raw).payload.encode()  # the payload, as the runtime keeps it
    await queue.dead_letters.add(
        job_id=job_id,
        function=function,
        raw_payload=payload,
        error_type="TimeoutError",
        message=message,
        attempts=attempts,
        priority=peek_priority(raw),
    )
    return True
