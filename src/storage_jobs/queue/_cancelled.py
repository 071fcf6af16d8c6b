"""Finishing a job as cancelled without running it, and counting it in the queue's history.

A job ends cancelled in one of three ways, and each counts once in the minute's ``cancelled``
counter (the overview's chart) and joins the index of cancelled jobs (its list):

- cancelled while queued, deferred or parked: ``Control.cancel`` takes it off the queue;
- met by the claim with its cancel marker (or its prefix job's) set: the worker finishes it
  with ``finish_cancelled``;
- cancelled while running: its handler stops and the worker's batched finish records it like
  any other outcome (``worker._finisher``).

The first two count inside the script that takes the job off its lane (``lua/cancel.lua``,
``lua/finish_cancelled.lua``), and only when it was
still there: a job leaves a lane once, so a repeated cancel or a repeated finish counts nothing
more, and a job one of them took off is never claimed to reach the third.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from ._events import EVENTS_MAXLEN, event_data
from ._history import FINISHED_KEPT, HISTORY_TTL, history_field
from ._keys import QueueKeys
from ._scripts import Scripts
from ._wire import CANCELLED, ErrorRecord, build_result, parse_envelope, peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["CANCEL_MESSAGE", "cancelled_result", "finish_cancelled"]

CANCEL_MESSAGE = "cancelled by an operator"


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
    redis: Redis,
    queue: str,
    job_id: str,
    *,
    result_ttl: float,
    scripts: Scripts | None = None,
    events_maxlen: int = EVENTS_MAXLEN,
) -> str | None:
    """Finishes a job the claim found cancelled (its lease is ours): a result, nothing queued.

    Counted in the history once: only when this call took it off its lane.

    Args:
        redis: The connection.
        queue: The queue.
        job_id: The job (its lease is the caller's).
        result_ttl: Seconds the cancelled result is kept.
        scripts: The queue's scripts on ``redis``; None registers them here.
        events_maxlen: Events the queue's stream keeps (about); 0: no events.

    Returns:
        The job's queue function name, if its envelope was readable.
    """
    keys = QueueKeys(queue)
    raw = await cast(Awaitable[bytes | None], redis.get(keys.job(job_id)))
    now = time.time()
    result = cancelled_result(queue, job_id, raw, None)
    event = event_data(job_id, result) if events_maxlen > 0 else None
    await (scripts or Scripts(redis)).finish_cancelled(
        keys=[
            keys.result(job_id),
            keys.job(job_id),
            keys.retry(job_id),
            keys.in_progress(job_id),
            keys.finished("cancelled"),
            keys.history(int(now // 60)),
            *keys.lanes,
            keys.events,
        ],
        args=[
            job_id,
            result,
            int(result_ttl * 1000),
            now,
            FINISHED_KEPT,
            HISTORY_TTL,
            history_field("cancelled"),
            event or b"",
            events_maxlen,
        ],
    )
    return peek_function(raw[:300]) if raw is not None else None
