"""``Shard``: the whole Redis protocol of one complete queue, as methods, over one connection.

A logical ``Queue`` (``_queue``) is one shard on one server, or N hash-tagged shards; each shard
is a complete queue (lanes, leases, wake list, control flags) and this class is its protocol.

Producers enqueue, workers claim, renew and finish, operators cancel, pause and resume, and
readers ask a job's status and result, all through one object that owns every script
(``Scripts``: one ``lua/*.lua`` file each, registered once per ``Queue``). The modules beside this
one hold the implementations it delegates to; each takes the ``Queue``'s scripts, so a script is
called only through the ``Queue`` (or an object it hands out: its ``Control``, progress stores,
rate limiter and dead-letter store).

A worker's ``Queue`` carries its ``LeaseHolder`` (its id, lease length, held jobs' lanes, lost
leases and the claim's lookahead); a producer's or reader's has none and cannot claim.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import structlog

from ..settings import Settings
from ._cancelled import finish_cancelled
from ._claim import Claim, LeaseHolder
from ._control import Control, RedisJobControl
from ._dead_letters import DeadLetterStore
from ._enqueue import Enqueuer, NewJob
from ._events import EVENTS_MAXLEN
from ._finish import FINISH_CALL_JOBS, Finish, finish_call
from ._heartbeat import Heartbeat, remove_heartbeat, write_heartbeat
from ._info import IN_PROGRESS_LIMIT, QueueDepth, queue_depth
from ._job_state import RedisJobState
from ._keys import ATTEMPTS_TTL_S, Priority, QueueKeys
from ._memory import EvictionPolicy, read_eviction_policy
from ._progress import RedisProgressStore
from ._rate_limit import RedisRateLimiter
from ._scripts import ReplicaWaitError, Scripts
from ._status import JobStatus, lease_holder, read_outcome, read_status
from ._wake import push_wake, wait_for_wake
from ._wire import ResultRecord, parse_result

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..jobs import JobLimits
    from ..storage import RateLimits

__all__ = ["RESULT_TTL_S", "Shard"]

_log = structlog.get_logger("storage_jobs.queue")

RESULT_TTL_S: float = Settings.model_fields["result_ttl"].default
"""Seconds results (and cancel markers) are kept, by default (``STORAGE_JOBS_RESULT_TTL``)."""


class Shard:
    """One complete queue's protocol over one connection.

    Attributes:
        redis: The connection.
        name: The queue (arq's queue name: its ``normal`` lane).
        keys: Its key names.
        result_ttl: Seconds results and cancel markers are kept.
        scripts: Its scripts on ``redis``.
        holder: A worker's leases and claim state; None for a producer or reader.
    """

    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        result_ttl: float = RESULT_TTL_S,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        holder: LeaseHolder | None = None,
        scripts: Scripts | None = None,
        done_channel: str | None = None,
        events_maxlen: int = EVENTS_MAXLEN,
    ) -> None:
        """Binds the protocol to a connection and queue.

        Args:
            redis: The connection.
            name: The queue.
            result_ttl: Seconds results (and cancel markers) are kept.
            worker_id: A worker's id: the queue then claims for it (a ``LeaseHolder``).
            lease_seconds: How long the worker's leases last without renewal.
            holder: The worker's lease holder, shared (overrides ``worker_id``).
            scripts: The scripts on ``redis``, shared by the shards of one queue.
            done_channel: Where finished ids are announced (a shard: its logical queue's).
            events_maxlen: Events its stream keeps (about: ``MAXLEN ~``); 0: no events.
        """
        self.redis = redis
        self.name = name
        self.keys = QueueKeys(name)
        self.result_ttl = result_ttl
        self.scripts = scripts or Scripts(redis)
        self.done_channel = done_channel or self.keys.done_channel
        self.events_maxlen = events_maxlen
        if holder is None and worker_id is not None:
            holder = LeaseHolder(name, worker_id, lease_seconds)
        self.holder = holder

    # -- producing --------------------------------------------------------------------------------

    async def enqueue_many(
        self, items: Sequence[NewJob], *, limits: JobLimits | None = None
    ) -> list[tuple[str, bool]]:
        """Checks every job, then writes them all (``Enqueuer.enqueue``: its errors too).

        Returns:
            ``(job_id, enqueued)`` per job; ``enqueued`` is False when the id was taken.
        """
        enqueuer = Enqueuer(self.redis, self.name, result_ttl=self.result_ttl, scripts=self.scripts)
        return await enqueuer.enqueue(items, limits=limits)

    # -- a worker's side --------------------------------------------------------------------------

    @property
    def leases(self) -> LeaseHolder:
        """The worker's lease holder.

        Raises:
            RuntimeError: If this queue was built without a worker id.
        """
        if self.holder is None:
            raise RuntimeError("this queue claims for no worker: build it with worker_id")
        return self.holder

    async def claim(
        self, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due jobs for the worker (``LeaseHolder.claim``)."""
        return await self.leases.claim(self.scripts, want, now_ms, scan=scan, bulk=bulk)

    async def renew(self, running: Iterable[str], now_ms: int) -> list[str]:
        """Renews the worker's leases of running jobs; returns those newly found lost."""
        return await self.leases.renew(self.redis, self.scripts, running, now_ms)

    async def finish(self, items: Sequence[Finish], *, trim: bool = False) -> int:
        """Finishes a batch of jobs: one script call per ``FINISH_CALL_JOBS``, one round trip.

        With a replica wait, writes not acknowledged in time are logged (``redis.wait_short``)
        and stand: the jobs finished; a failover before they replicate runs them again.

        Returns:
            How many were removed.
        """
        if not items:
            return 0
        calls = [
            finish_call(
                self.keys,
                items[start : start + FINISH_CALL_JOBS],
                trim=trim,
                channel=self.done_channel,
                events_maxlen=self.events_maxlen,
            )
            for start in range(0, len(items), FINISH_CALL_JOBS)
        ]
        try:
            answers = await self.scripts.run_many(calls, durable=True)
        except ReplicaWaitError as exc:
            _log.warning("redis.wait_short", queue=self.name, jobs=len(items), detail=str(exc))
            answers = exc.answers
        return sum(int(a) for a in answers)

    async def retry(
        self, job_id: str, *, score: int | None, delay_ms: int, lane: Priority = "normal"
    ) -> None:
        """Leaves a claimed job queued again, due ``delay_ms`` after its claim ``score``."""
        await self.finish([Finish(job_id, False, incr_score=delay_ms, score=score, lane=lane)])

    async def set_attempts(self, job_id: str, tries: int) -> None:
        """Sets arq's attempt counter of a job (it lives ``ATTEMPTS_TTL_S``, as arq's does)."""
        await cast(Awaitable[Any], self.redis.setex(self.keys.retry(job_id), ATTEMPTS_TTL_S, tries))

    async def finish_cancelled(self, job_id: str) -> str | None:
        """Finishes a claimed job found cancelled; returns its queue function, if readable."""
        return await finish_cancelled(
            self.redis,
            self.name,
            job_id,
            result_ttl=self.result_ttl,
            scripts=self.scripts,
            events_maxlen=self.events_maxlen,
        )

    @cached_property
    def dead_letters(self) -> DeadLetterStore:
        """The queue's dead letters (a replay enqueues through these scripts)."""
        return DeadLetterStore(self.redis, self.name, scripts=self.scripts)

    def progress(self, job_id: str) -> RedisProgressStore:
        """A prefix job's progress (indexed on this queue when it starts)."""
        return RedisProgressStore(self.redis, job_id, queue=self.name, scripts=self.scripts)

    def job_state(self) -> RedisJobState:
        """A running job's crash-safe state (its progress indexed on this queue)."""
        return RedisJobState(
            self.redis, queue=self.name, result_ttl=self.result_ttl, scripts=self.scripts
        )

    def rate_limiter(self, limits: RateLimits, **options: Any) -> RedisRateLimiter:
        """The queue's shared S3 rate limits (``RedisRateLimiter``'s options)."""
        return RedisRateLimiter(self.redis, self.name, limits, scripts=self.scripts, **options)

    # -- the operator's side ----------------------------------------------------------------------

    @cached_property
    def control(self) -> Control:
        """Cancel, pause and resume (``Control``)."""
        return Control(self.redis, self.name, self.result_ttl, self.scripts, self.events_maxlen)

    def job_control(self, job_id: str) -> RedisJobControl:
        """A running job's view of its cancel and pause flags."""
        return RedisJobControl(self.control, job_id)

    async def cancel(self, job_ids: Sequence[str]) -> list[bool]:
        """Cancels jobs; per job, True when it will not complete normally."""
        return await self.control.cancel(job_ids)

    async def pause(self) -> bool:
        """Pauses the queue; False if it was paused already."""
        return await self.control.pause_queue()

    async def resume(self) -> bool:
        """Resumes the queue and wakes an idle worker; False if it was not paused."""
        return await self.control.resume_queue()

    async def paused(self) -> bool:
        """Whether the queue is paused."""
        return await self.control.queue_paused()

    async def pause_job(self, job_id: str) -> bool:
        """Pauses a migration or prefix delete (``Control.pause_job``)."""
        return await self.control.pause_job(job_id)

    async def resume_job(self, job_id: str) -> bool:
        """Resumes a paused prefix job; False if it was not paused."""
        return await self.control.resume_job(job_id)

    async def job_paused(self, job_id: str) -> bool:
        """Whether a prefix job is paused."""
        return await self.control.job_paused(job_id)

    # -- reading ----------------------------------------------------------------------------------

    async def status(self, job_id: str) -> JobStatus:
        """Where a job is (one round trip)."""
        return await read_status(self.redis, self.name, job_id)

    async def result(self, job_id: str) -> ResultRecord | None:
        """A job's final outcome, or None while it may still run."""
        return await read_outcome(self.redis, self.name, job_id)

    async def stored_result(self, job_id: str) -> ResultRecord | None:
        """The job's stored result record, if any (no dead letter stands in for it)."""
        raw = await cast(Awaitable[bytes | None], self.redis.get(self.keys.result(job_id)))
        return None if raw is None else parse_result(raw)

    async def lease_holder(self, job_id: str) -> str | None:
        """The id of the worker whose lease on the job is live, if any."""
        return await lease_holder(self.redis, job_id)

    async def depth(self, *, in_progress_limit: int = IN_PROGRESS_LIMIT) -> QueueDepth:
        """Ready, running and deferred jobs, all lanes summed (``queue_depth``)."""
        return await queue_depth(self.redis, self.name, in_progress_limit=in_progress_limit)

    async def eviction_policy(self, *, declared: str | None = None) -> EvictionPolicy:
        """Redis's eviction policy, and whether queued jobs are safe from it."""
        return await read_eviction_policy(self.redis, declared=declared)

    # -- heartbeats -------------------------------------------------------------------------------

    async def heartbeat(self, beat: Heartbeat, *, ttl: float, also: str | None = None) -> None:
        """Stores a worker's heartbeat for ``ttl`` seconds (``also``: arq's health key too)."""
        await write_heartbeat(self.redis, self.name, beat, ttl=ttl, also=also)

    async def remove_heartbeat(self, worker_id: str) -> None:
        """Forgets a worker at once (it stopped cleanly)."""
        await remove_heartbeat(self.redis, self.name, worker_id)

    # -- waking -----------------------------------------------------------------------------------

    async def push_wake(self) -> None:
        """Pushes a wake token: an idle worker claims at once."""
        async with self.redis.pipeline(transaction=False) as pipe:
            push_wake(pipe, self.keys.wake)  # one key: the trim follows the push either way
            await pipe.execute()

    async def wait_for_wake(self, timeout_s: float) -> bool:
        """Blocks until a wake token arrives (True) or ``timeout_s`` passes."""
        return await wait_for_wake(self.redis, self.keys.wake, timeout_s)
