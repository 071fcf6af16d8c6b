"""Finishing jobs: one script call (``lua/finish.lua``) writes a whole batch of finishes.

arq finishes each job with its own ``MULTI``/``EXEC`` of six commands and a round trip. Here one
call sets each result, deletes every job's keys (one ``DEL``), removes them all from their lanes
(one ``ZREM`` per lane) and announces their ids to waiting clients (``ResultWaiter``): one
command per job (its result's ``SET``), about six per batch. A job left queued (a retry) gets
its claim score back plus its delay, and pushes a wake token. Which finishes ride together is
the caller's choice (the worker's group commit, ``worker._finisher``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._events import EVENTS_MAXLEN, event_data
from ._history import FINISHED_KEPT, HISTORY_TTL, Outcome, finished_index, history_field
from ._keys import Priority, QueueKeys

if TYPE_CHECKING:
    from ._scripts import ScriptCall

__all__ = ["FINISH_CALL_JOBS", "Finish", "finish_call"]

FINISH_CALL_JOBS = 256
"""Jobs one finish call holds at most: 5 keys and 10 arguments each, so a call stays under the
3,999 arguments ElastiCache Serverless allows a command (3,853 at 256 jobs)."""


@dataclass(frozen=True)
class Finish:
    """What finishing one job writes (arq's ``finish_job`` arguments).

    Attributes:
        job_id: The job.
        finish: True to store the result and remove the job; False to leave it queued.
        result_data: The serialized result, if one is kept.
        result_ttl_ms: How long the result is kept (None: forever).
        incr_score: Milliseconds to push the job's run time back (a retry's delay).
        keep_lease_ms: Keep the lease this long instead of deleting it.
        outcome: What the attempt ended in, for the dashboard's history.
        score: The job's queue score when it was claimed: a job left queued (a retry) gets it
            back, plus ``incr_score`` (the claim moved it to the lease's deadline). None: the
            score is only incremented, as arq does.
        lane: The lane the job was claimed from: its removal and retry address that set.
    """

    job_id: str
    finish: bool
    result_data: bytes | None = None
    result_ttl_ms: int | None = None
    incr_score: int | None = None
    keep_lease_ms: int | None = None
    outcome: Outcome = "success"
    score: int | None = None
    lane: Priority = "normal"


def finish_call(
    keys: QueueKeys,
    items: Sequence[Finish],
    *,
    trim: bool = False,
    now: float | None = None,
    channel: str | None = None,
    events_maxlen: int = EVENTS_MAXLEN,
) -> ScriptCall:
    """The script call writing the finishes of a batch (it answers how many it removed).

    Args:
        keys: The queue's keys.
        items: The finishes (``FINISH_CALL_JOBS`` at most).
        trim: Also trim the finished-jobs indexes to ``FINISHED_KEPT`` ids.
        now: The time (default: now): the history's minute and the indexes' score.
        channel: The channel announcing the finished ids (default: the queue's own; a
            shard announces on its logical queue's, where clients listen).
        events_maxlen: Events the stream keeps (about); 0: no events.
    """
    now = time.time() if now is None else now
    all_keys: list[str] = [
        keys.queue,
        keys.history(int(now // 60)),
        keys.finished("complete"),
        keys.finished("failed"),
        keys.finished("cancelled"),
        keys.events,
    ]
    args: list[Any] = []
    for item in items:
        job_id = item.job_id
        all_keys += [
            keys.in_progress(job_id),
            keys.result(job_id),
            keys.retry(job_id),
            keys.job(job_id),
            keys.lane(item.lane),
        ]
        args += [
            job_id,
            "1" if item.finish else "0",
            item.result_data or b"",
            "" if item.result_ttl_ms is None else item.result_ttl_ms,
            "" if not item.incr_score else item.incr_score,
            "" if item.keep_lease_ms is None else item.keep_lease_ms,
            history_field(item.outcome),
            finished_index(item.outcome) or "",
            "" if item.score is None else item.score,
            _event(item) if events_maxlen > 0 else b"",
        ]
    all_keys.append(keys.wake)
    args += [
        channel or keys.done_channel,
        now,
        HISTORY_TTL,
        FINISHED_KEPT,
        "1" if trim else "",
        events_maxlen,
    ]
    return ("finish", all_keys, args)


def _event(item: Finish) -> bytes:
    """The completion event of a job this finish ends, if it has one."""
    if not item.finish or not item.result_data:
        return b""
    return event_data(item.job_id, item.result_data) or b""
