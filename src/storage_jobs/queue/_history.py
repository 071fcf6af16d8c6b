"""Outcome history: per-minute counters and a capped index of recently finished jobs.

Workers write both with one pipelined round trip per finished attempt; every dashboard reads
the same counters, so the chart is the same everywhere and survives a dashboard restart.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from ._keys import QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "FINISHED_KEPT",
    "HISTORY_TTL",
    "MinuteCounts",
    "Outcome",
    "finished_index",
    "history_field",
    "read_history",
    "record_outcome",
]

Outcome = Literal["success", "retry", "failed", "invalid", "cancelled", "expired"]
"""What one attempt ended in (the metrics' outcomes)."""

HISTORY_TTL = 3 * 3600
"""Seconds a minute's counters are kept (the chart shows the last hour)."""

FINISHED_KEPT = 10_000
"""Finished job ids kept per outcome for the jobs list (the oldest fall off)."""

_FINISHED = {
    "success": "complete",
    "failed": "failed",
    "invalid": "failed",
    "cancelled": "cancelled",
}


def history_field(outcome: Outcome) -> str:
    """The minute counter an outcome adds to (an invalid payload counts as a failure)."""
    return "failed" if outcome == "invalid" else outcome


def finished_index(outcome: Outcome) -> str | None:
    """Which finished-jobs index an outcome joins (``complete``/``failed``/``cancelled``).

    None for a retry (the job is not finished).
    """
    return _FINISHED.get(outcome)


class MinuteCounts(BaseModel):
    """One minute's finished attempts.

    Attributes:
        minute: Unix time of the minute's start.
        success: Attempts that succeeded.
        retry: Attempts re-queued after a transient failure.
        failed: Jobs that failed for good (invalid payloads included).
        cancelled: Jobs stopped by a cancel.
        expired: Jobs not started before their ``expires`` (never run).
    """

    minute: int
    success: int = 0
    retry: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: int = 0


async def record_outcome(
    redis: Redis, queue_name: str, job_id: str, outcome: Outcome, *, at: float | None = None
) -> None:
    """Counts one attempt's outcome in its minute and indexes the job if it finished."""
    keys = QueueKeys(queue_name)
    now = time.time() if at is None else at
    history = keys.history(int(now // 60))
    field = history_field(outcome)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(history, field, 1)
        pipe.expire(history, HISTORY_TTL)
        if (state := finished_index(outcome)) is not None:
            index = keys.finished(state)
            pipe.zadd(index, {job_id: now})
            pipe.zremrangebyrank(index, 0, -FINISHED_KEPT - 1)
        await pipe.execute()


async def read_history(
    redis: Redis, queue_name: str, *, minutes: int = 60, now: float | None = None
) -> list[MinuteCounts]:
    """The last ``minutes`` minutes' counters, oldest first (one round trip)."""
    keys = QueueKeys(queue_name)
    current = int((time.time() if now is None else now) // 60)
    wanted = list(range(current - minutes + 1, current + 1))
    async with redis.pipeline(transaction=False) as pipe:
        for minute in wanted:
            pipe.hgetall(keys.history(minute))
        rows: list[dict[bytes, bytes]] = await pipe.execute()
    counts = []
    for minute, row in zip(wanted, rows, strict=True):
        data = {
            k.decode(): int(v) for k, v in row.items() if k.decode() in MinuteCounts.model_fields
        }
        counts.append(MinuteCounts(minute=minute * 60, **data))
    return counts
