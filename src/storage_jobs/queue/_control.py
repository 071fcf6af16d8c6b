"""Operator control in Redis: cancel markers, the queue's pause flag, paused prefix jobs.

- **Cancel.** One script decides atomically against the claim: a job with a result is left
  alone (False); a queued, deferred or parked job is taken off the queue and finished as
  cancelled at once, with a result record in arq's shape (so it never runs, even if no worker
  is up); a running job (its lease is live) gets a marker. The marker lives as long as a result
  would, so it outlives worker crashes: the claim script refuses to run a marked job and the
  worker finishes it as cancelled (``finish_cancelled``), and running handlers poll it at safe
  points through ``RedisJobControl``. A batch of a prefix job also obeys its parent's marker.
  Every way a job ends cancelled adds it to the queue's capped index of cancelled jobs (the
  dashboard's list) and counts it once in the minute's history (its chart), like the worker's
  finish does for complete and failed jobs (``_cancelled``).
- **Pause.** The queue's flag makes workers take nothing new. A prefix job's flag makes the
  claim *park* its batches (move them from the queue to a per-job sorted set, score kept) so
  they do not clog the head of the queue other jobs are read from; resume moves them back.

The scripts are ``lua/cancel.lua``, ``lua/pause_job.lua`` and ``lua/resume_job.lua``; each
writer of a marker extends the queue's control flag past the marker's life (the claim checks
markers only while it is set). ``control_keys`` names a job's markers for the claim.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..jobs import JobRejectedError, parent_job_id, spec_for_name
from ._cancelled import cancelled_result
from ._events import EVENTS_MAXLEN, event_data
from ._history import FINISHED_KEPT, HISTORY_TTL, history_field
from ._keys import QueueKeys
from ._scripts import ScriptCall, Scripts
from ._wake import push_wake
from ._wire import peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "PAUSABLE_KINDS",
    "Control",
    "RedisJobControl",
    "control_keys",
]

PAUSABLE_KINDS = frozenset({"migrate", "delete_prefix", "verify"})
_CHECK_EVERY = 0.5  # seconds a running job's cancel/pause answer is reused


def control_keys(job_id: str) -> tuple[str, str, str, str, str]:
    """The control keys the claim reads (and writes, parking) for a job.

    A batch's owner is its prefix job (``jobs.parent_job_id``, the inverse of the function that
    builds batch ids); a job that is no batch is its own owner.

    Returns:
        ``(its cancel marker, its owner's cancel marker, its owner's pause flag, its owner's
        parked set, the name of the lane its owner's batches were parked from)``.
    """
    owner = parent_job_id(job_id) or job_id
    return (
        QueueKeys.cancel(job_id),
        QueueKeys.cancel(owner),
        QueueKeys.job_paused(owner),
        QueueKeys.parked(owner),
        QueueKeys.parked_lane(owner),
    )


@dataclass
class Control:
    """The operator's side: cancel jobs, pause and resume the queue or one prefix job.

    Attributes:
        redis: The connection.
        queue: The queue.
        result_ttl: Seconds results (and so cancel markers) are kept.
        scripts: The queue's scripts on this connection (``lua/cancel.lua``, ``pause_job``,
            ``resume_job``); None registers them here.
        events_maxlen: Events the queue's stream keeps (about); 0: no events.
    """

    redis: Redis
    queue: str
    result_ttl: float
    scripts: Scripts | None = field(default=None, repr=False)
    events_maxlen: int = EVENTS_MAXLEN

    def __post_init__(self) -> None:
        if self.scripts is None:
            self.scripts = Scripts(self.redis)

    @property
    def _scripts(self) -> Scripts:
        assert self.scripts is not None  # set in __post_init__
        return self.scripts

    @property
    def keys(self) -> QueueKeys:
        """The queue's keys."""
        return QueueKeys(self.queue)

    async def cancel(self, job_ids: Sequence[str]) -> list[bool]:
        """Cancels jobs (two pipelined round trips for any number).

        Returns:
            Per job, True when it will not complete normally: it was queued, deferred or parked
            (it never runs) or it is running (it stops at its next safe point); False when it
            had finished already or is unknown.
        """
        if not job_ids:
            return []
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.get(keys.job(job_id))
            envelopes: list[bytes | None] = await pipe.execute()
        ttl_ms = int(self.result_ttl * 1000)
        now = time.time()
        calls: list[ScriptCall] = []
        for job_id, raw in zip(job_ids, envelopes, strict=True):
            result = cancelled_result(self.queue, job_id, raw, None)
            event = event_data(job_id, result) if self.events_maxlen > 0 else None
            calls.append(
                (
                    "cancel",
                    [
                        keys.result(job_id),
                        keys.in_progress(job_id),
                        keys.job(job_id),
                        keys.retry(job_id),
                        keys.cancel(job_id),
                        control_keys(job_id)[3],
                        *keys.lanes,
                        keys.finished("cancelled"),
                        keys.history(int(now // 60)),
                        keys.control,
                        keys.events,
                    ],
                    [
                        job_id,
                        result,
                        ttl_ms,
                        ttl_ms,
                        now,
                        FINISHED_KEPT,
                        HISTORY_TTL,
                        history_field("cancelled"),
                        event or b"",
                        self.events_maxlen,
                    ],
                )
            )
        answers = await self._scripts.run_many(calls)
        return [int(a) > 0 for a in answers]

    async def pause_queue(self) -> bool:
        """Pauses the queue; False if it was paused already."""
        return bool(await self.redis.set(self.keys.paused, "1", nx=True))

    async def resume_queue(self) -> bool:
        """Resumes the queue and wakes an idle worker; False if it was not paused."""
        async with self.redis.pipeline(transaction=False) as pipe:  # in order; no MULTI needed
            pipe.delete(self.keys.paused)
            push_wake(pipe, self.keys.wake)
            removed, *_ = await pipe.execute()
        return bool(removed)

    async def queue_paused(self) -> bool:
        """Whether the queue is paused."""
        return bool(await self.redis.exists(self.keys.paused))

    async def pause_job(self, job_id: str) -> bool:
        """Pauses a migration, verification or prefix delete that has not finished.

        Returns:
            True when it is paused now; False if it has finished, is unknown, or was paused.

        Raises:
            JobRejectedError: If the job is of another kind (only prefix jobs pause).
        """
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.getrange(keys.job(job_id), 0, 300)
            pipe.exists(keys.result(job_id))
            head, finished = await pipe.execute()
        if not head or finished:
            return False
        function = peek_function(head)
        spec = spec_for_name(function) if function else None
        if spec is None or spec.kind not in PAUSABLE_KINDS:
            kind = spec.kind if spec is not None else function
            raise JobRejectedError(
                "job_id", f"only migrations, verifications and prefix deletes pause, not {kind!r}"
            )
        ttl_ms = int(self.result_ttl * 1000)
        pause = self._scripts.pause_job
        return bool(await pause(keys=[keys.job_paused(job_id), keys.control], args=[ttl_ms]))

    async def resume_job(self, job_id: str) -> bool:
        """Resumes a paused prefix job: its parked batches go back on the queue, score kept.

        Returns:
            False if it was not paused.
        """
        keys = self.keys
        put_back = await self._scripts.resume_job(
            keys=[
                keys.job_paused(job_id),
                keys.parked(job_id),
                *keys.lanes,
                keys.wake,
                keys.parked_lane(job_id),
            ]
        )
        return int(put_back) >= 0

    async def job_paused(self, job_id: str) -> bool:
        """Whether a prefix job is paused."""
        return bool(await self.redis.exists(self.keys.job_paused(job_id)))


class RedisJobControl:
    """``jobs.JobControl`` of one running job, over the worker's connection."""

    def __init__(self, control: Control, job_id: str) -> None:
        self.control = control
        self.job_id = job_id
        cancel, parent_cancel, paused, *_ = control_keys(job_id)
        self._cancel_keys = [cancel] if cancel == parent_cancel else [cancel, parent_cancel]
        self._paused_key = paused
        self._checked: dict[str, tuple[float, bool]] = {}

    async def _cached(self, what: str, keys: list[str]) -> bool:
        now = time.monotonic()
        at, answer = self._checked.get(what, (float("-inf"), False))
        if now - at < _CHECK_EVERY:
            return answer
        answer = bool(await self.control.redis.exists(*keys))
        # A cancel is final: once seen, never ask again.
        self._checked[what] = (float("inf") if answer and what == "cancel" else now, answer)
        return answer

    async def cancelled(self) -> bool:
        """Whether this job or its prefix job is cancelled (cached for 0.5 s)."""
        return await self._cached("cancel", self._cancel_keys)

    async def paused(self) -> bool:
        """Whether this job's prefix job is paused (cached for 0.5 s)."""
        return await self._cached("pause", [self._paused_key])

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancels other jobs (a coordinator's batches)."""
        await self.control.cancel(job_ids)

    async def unfinished(self, job_ids: Sequence[str]) -> list[str]:
        """The jobs among ``job_ids`` without a result yet."""
        if not job_ids:
            return []
        async with self.control.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(QueueKeys.result(job_id))
            answers = await pipe.execute()
        return [j for j, done in zip(job_ids, answers, strict=True) if not done]
