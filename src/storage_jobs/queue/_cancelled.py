"""Finishing a job as cancelled without running it, and counting it in the queue's history.

A job ends cancelled in one of three ways, and each counts once in the minute's ``cancelled``
counter (the overview's chart) and joins the index of cancelled jobs (its list):

- cancelled while queued, deferred or parked: ``Control.cancel`` takes it off the queue;
- met by the claim with its cancel marker (or its prefix job's) set: the worker finishes it
  with ``finish_cancelled``;
- cancelled while running: its handler stops and the worker's batched finish records it like
  any other outcome (``worker._finisher``).

The first two count inside the script that takes the job off its lane, and only when it was
still there: a job leaves a lane once, so a repeated cancel or a repeated finish counts nothing
more, and a job one of them took off is never claimed to reach the third.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from ._history import FINISHED_KEPT, HISTORY_TTL, history_field
from ._keys import QueueKeys
from ._wire import CANCELLED, ErrorRecord, build_result, parse_envelope, peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["CANCEL_MESSAGE", "COUNT_CANCELLED", "cancelled_result", "finish_cancelled"]

CANCEL_MESSAGE = "cancelled by an operator"

# A Lua prelude: records one job finished as cancelled in the index of cancelled jobs (capped at
# `kept`) and in the minute's history hash (kept `ttl` s). Its callers run it once per job they
# took off a lane.
COUNT_CANCELLED = f"""
local function count_cancelled(index, history, id, now, kept, ttl)
    redis.call('zadd', index, now, id)
    redis.call('zremrangebyrank', index, 0, -tonumber(kept) - 1)
    redis.call('hincrby', history, '{history_field("cancelled")}', 1)
    redis.call('expire', history, ttl)
end
"""

# KEYS: result, job, attempt counter, lease, the index of cancelled jobs, this minute's history,
# then the lanes (the job waits in one). ARGV: job id, cancelled result, result TTL ms, now (the
# index's score), how many ids the index keeps, the history's TTL s. Returns 1 if the job was
# still in a lane (it is counted then), else 0.
_FINISH = (
    COUNT_CANCELLED
    + """
local removed = 0
for i = 7, #KEYS do removed = removed + redis.call('zrem', KEYS[i], ARGV[1]) end
redis.call('psetex', KEYS[1], ARGV[3], ARGV[2])
redis.call('del', KEYS[2], KEYS[3], KEYS[4])
if removed == 0 then return 0 end
count_cancelled(KEYS[5], KEYS[6], ARGV[1], ARGV[4], ARGV[5], ARGV[6])
return 1
"""
)


def cancelled_result(
    queue: str, job_id: str, raw: bytes | None, progress: dict[str, Any] | None
) -> bytes:
    """A cancelled job's result record, in arq's shape, from its envelope if it was readable."""
    function, tries, enqueued = None, 0, 0
    if raw is not None:
        try:
            envelope = parse_envelope(raw)
        except ValueError:
            function = peek_function(raw[:300])
        else:
            function, tries, enqueued = envelope.function, envelope.tries, envelope.enqueue_ms
    now_ms = int(time.time() * 1000)
    return build_result(
        job_id=job_id,
        queue=queue,
        function=function,
        tries=tries,
        enqueue_ms=enqueued or now_ms,
        start_ms=now_ms,
        finish_ms=now_ms,
        error=ErrorRecord(error_type=CANCELLED, message=CANCEL_MESSAGE, progress=progress),
    )


async def finish_cancelled(
    redis: Redis, queue: str, job_id: str, *, result_ttl: float
) -> str | None:
    """Finishes a job the claim found cancelled (its lease is ours): a result, nothing queued.

    Counted in the history once: only when this call took it off its lane.

    Returns:
        The job's queue function name, if its envelope was readable.
    """
    keys = QueueKeys(queue)
    raw = await cast(Awaitable[bytes | None], redis.get(keys.job(job_id)))
    now = time.time()
    await redis.register_script(_FINISH)(
        keys=[
            keys.result(job_id),
            keys.job(job_id),
            keys.retry(job_id),
            keys.in_progress(job_id),
            keys.finished("cancelled"),
            keys.history(int(now // 60)),
            *keys.lanes,
        ],
        args=[
            job_id,
            cancelled_result(queue, job_id, raw, None),
            int(result_ttl * 1000),
            now,
            FINISHED_KEPT,
            HISTORY_TTL,
        ],
    )
    return peek_function(raw[:300]) if raw is not None else None
