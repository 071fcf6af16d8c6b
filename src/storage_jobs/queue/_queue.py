"""``Queue``: one logical queue, as methods, over one shard or N hash-tagged shards.

Producers enqueue, workers claim, renew and finish, operators cancel, pause and resume, and
readers ask a job's status and result, all through one object. Each shard is a complete queue
(``Shard``: lanes, leases, wake list, control flags, every script); this class routes each job's
call to the shard its id names (``ShardLayout``) and spreads the queue-wide ones over all:

- **Enqueue**: ids are tagged with their shard (``{<tag>}<id>``, placed by a hash of the id, so
  the same id lands on the same shard and still runs once); one call per shard per batch, every
  job checked before any is written.
- **Claim**: shards in turn, a different one first each call, so none starves; a claim moves on
  to the next shard only for the slots the first left free.
- **Wake-ups**: an idle worker blocks on every shard's wake list (one ``BLPOP`` over all of them
  on one server; one per shard on a cluster, whose keys cannot share a command).
- **Pause and resume** set every shard; cancel, a prefix job's pause, status and result go to
  the job's shard. Heartbeats live on the first shard; the S3 rate limit's schedule per bucket
  is one key of its own, shared by all shards.

With one shard on one server (the default) every call goes straight to that shard, and the keys
are those of a queue without shards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from ._claim import Claim, LeaseHolder
from ._control import Control, RedisJobControl
from ._dead_letters import DeadLetterStore
from ._enqueue import NewJob
from ._event_stream import EventGroup, EventReader
from ._events import EVENTS_MAXLEN
from ._finish import Finish
from ._heartbeat import Heartbeat, remove_heartbeat, write_heartbeat
from ._info import IN_PROGRESS_LIMIT, KIND_SAMPLE, QueueDepth, QueueInfo, queue_info
from ._job_state import RedisJobState
from ._keys import Priority, QueueKeys
from ._listings import Listings
from ._memory import EvictionPolicy
from ._progress import RedisProgressStore
from ._rate_limit import RedisRateLimiter
from ._schedules import ScheduleStore
from ._scripts import ReplicaWait, Scripts
from ._shard import RESULT_TTL_S, Shard
from ._sharded import ShardedControl, ShardedDeadLetters
from ._shards import ShardLayout
from ._spread import claim_over_shards, enqueue_over_shards, merge_depths, sharded_info
from ._status import JobStatus
from ._ticks import TickRound, fire_due
from ._wake import wait_for_any_wake
from ._wire import ResultRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

    from ..jobs import JobLimits
    from ..storage import RateLimits
    from ..tracing import Tracer

__all__ = ["RESULT_TTL_S", "Queue"]


class Queue:
    """One logical queue over its shards.

    Attributes:
        redis: The connection (a cluster client on a cluster).
        name: The queue's name.
        layout: Its shards' names and which holds a job.
        home: The name of its queue-wide keys (heartbeats, rate limits): the queue's own,
            hash-tagged on a tagged queue.
        shards: One ``Shard`` per shard, in layout order.
        result_ttl: Seconds results and cancel markers are kept.
        scripts: The scripts on ``redis``, shared by the shards.
        tracer: Traces enqueues (their context rides in the jobs); None when tracing is off.
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        name: str,
        *,
        shards: int = 1,
        tagged: bool = False,
        result_ttl: float = RESULT_TTL_S,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        tracer: Tracer | None = None,
        wait: ReplicaWait | None = None,
        events_maxlen: int = EVENTS_MAXLEN,
    ) -> None:
        """Binds the protocol to a connection and queue.

        Args:
            redis: The connection.
            name: The queue.
            shards: Its shard count (``STORAGE_JOBS_QUEUE_SHARDS``).
            tagged: Hash-tag names and ids even with one shard (a cluster needs it).
            result_ttl: Seconds results (and cancel markers) are kept.
            worker_id: A worker's id: the queue then claims for it.
            lease_seconds: How long the worker's leases last without renewal.
            tracer: Traces enqueues (``tracing.tracer_for``); None when tracing is off.
            wait: Replicas to wait for after each enqueue and finish call (``ReplicaWait``).
            events_maxlen: Events each shard's stream keeps (about); 0: no events.
        """
        # Typed as one server's client: a cluster client answers every command the readers use
        # (each routed by its key), so their signatures need not name both.
        self.redis = cast("Redis", redis)
        self.name = name
        self.layout = ShardLayout(name, shards, tagged)
        # Queue-wide keys (heartbeats, the rate limit's schedules) share one slot, as the rate
        # limit's script reads both: tagged with the queue's own name on a tagged queue.
        self.home = f"{name}{{{name}}}" if self.layout.tagged else name
        self.result_ttl = result_ttl
        self.events_maxlen = events_maxlen
        self.scripts = Scripts(self.redis, wait=wait)
        self.shards = tuple(
            Shard(
                self.redis,
                shard_name,
                result_ttl=result_ttl,
                worker_id=worker_id,
                lease_seconds=lease_seconds,
                scripts=self.scripts,
                done_channel=QueueKeys(name).done_channel,
                events_maxlen=events_maxlen,
            )
            for shard_name in self.layout.names
        )
        self._turn = 0  # the shard the next claim starts at
        self.tracer = tracer

    @property
    def single(self) -> Shard | None:
        """The only shard, when there is one."""
        return self.shards[0] if len(self.shards) == 1 else None

    def _only(self, what: str) -> Shard:
        if self.single is None:
            raise RuntimeError(f"a queue of {len(self.shards)} shards has no one {what}")
        return self.single

    @property
    def keys(self) -> QueueKeys:
        """The key names of the only shard (a queue of several has one set per shard)."""
        return self._only("key set").keys

    @property
    def leases(self) -> LeaseHolder:
        """The worker's leases on the only shard (a queue of several has one per shard)."""
        return self._only("lease holder").leases

    def shard(self, job_id: str) -> Shard:
        """The shard holding a job (by the tag of its id, else its id's hash)."""
        return self.shards[self.layout.index(job_id)]

    def job_id(self, job_id: str) -> str:
        """The id a job has on the queue (tagged on a tagged queue; either spelling works)."""
        return self.layout.job_id(job_id)

    def _by_shard(self, job_ids: Iterable[str]) -> dict[int, list[str]]:
        groups: dict[int, list[str]] = {}
        for job_id in job_ids:
            groups.setdefault(self.layout.index(job_id), []).append(job_id)
        return groups

    # -- producing --------------------------------------------------------------------------------

    async def enqueue_many(
        self, items: Sequence[NewJob], *, limits: JobLimits | None = None
    ) -> list[tuple[str, bool]]:
        """Checks every job, then writes them all, one call per shard per batch.

        Returns:
            ``(job_id, enqueued)`` per job, in order; ``job_id`` as the queue holds it (tagged
            on a tagged queue); ``enqueued`` is False when the id was taken.

        Raises:
            As ``Enqueuer.enqueue``. A Redis refusal names the jobs written before it, on
            every shard.
        """
        if self.tracer is not None:
            # One producer span per call; its context rides in each job's envelope.
            with self.tracer.sending(self.name, len(items)) as sending:
                carrier = sending.carrier
                if carrier is not None:
                    items = [replace(item, trace=carrier) for item in items]
                answers = await self._enqueue_many(items, limits)
                sending.enqueued(answers)
                return answers
        return await self._enqueue_many(items, limits)

    async def _enqueue_many(
        self, items: Sequence[NewJob], limits: JobLimits | None
    ) -> list[tuple[str, bool]]:
        if self.single is not None and not self.layout.tagged:
            return await self.single.enqueue_many(items, limits=limits)
        return await enqueue_over_shards(self, items, limits)

    # -- a worker's side --------------------------------------------------------------------------

    async def claim(
        self, want: int, now_ms: int, *, scan: int = 0, bulk: int | None = None
    ) -> Claim:
        """Takes up to ``want`` due jobs for the worker, shards in turn (``LeaseHolder.claim``)."""
        if self.single is not None:
            return await self.single.claim(want, now_ms, scan=scan, bulk=bulk)
        start = self._turn
        self._turn = (start + 1) % len(self.shards)
        return await claim_over_shards(self, start, want, now_ms, scan=scan, bulk=bulk)

    async def renew(self, running: Iterable[str], now_ms: int) -> list[str]:
        """Renews the worker's leases of running jobs; returns those newly found lost."""
        # Every shard is asked, an empty list too: that is how it forgets lost leases.
        groups = self._by_shard(running)
        lost = await asyncio.gather(
            *(shard.renew(groups.get(i, []), now_ms) for i, shard in enumerate(self.shards))
        )
        return [job_id for part in lost for job_id in part]

    def forget(self, job_id: str) -> bool:
        """Forgets a finished job's lease; True if it had been lost."""
        return self.shard(job_id).leases.forget(job_id)

    async def finish(self, items: Sequence[Finish], *, trim: bool = False) -> int:
        """Finishes a batch of jobs, one script call per shard; returns how many were removed."""
        groups: dict[int, list[Finish]] = {}
        for item in items:
            groups.setdefault(self.layout.index(item.job_id), []).append(item)
        removed = await asyncio.gather(
            *(self.shards[s].finish(batch, trim=trim) for s, batch in groups.items())
        )
        return sum(removed)

    async def retry(
        self, job_id: str, *, score: int | None, delay_ms: int, lane: Priority = "normal"
    ) -> None:
        """Leaves a claimed job queued again, due ``delay_ms`` after its claim ``score``."""
        await self.shard(job_id).retry(job_id, score=score, delay_ms=delay_ms, lane=lane)

    async def set_attempts(self, job_id: str, tries: int) -> None:
        """Sets arq's attempt counter of a job."""
        await self.shard(job_id).set_attempts(job_id, tries)

    async def finish_cancelled(self, job_id: str) -> str | None:
        """Finishes a claimed job found cancelled; returns its queue function, if readable."""
        return await self.shard(job_id).finish_cancelled(job_id)

    @cached_property
    def dead_letters(self) -> DeadLetterStore:
        """The queue's dead letters, every shard's."""
        if self.single is not None:
            return self.single.dead_letters
        return ShardedDeadLetters(self)

    def progress(self, job_id: str) -> RedisProgressStore:
        """A prefix job's progress (indexed on its shard when it starts)."""
        job_id = self.job_id(job_id)
        return self.shard(job_id).progress(job_id)

    def job_state(self) -> RedisJobState:
        """Running jobs' crash-safe state (each prefix job's progress indexed on its shard)."""
        return RedisJobState(
            self.redis,
            queue=self.name if self.single is not None else None,
            queue_of=None if self.single is not None else self._shard_name,
            result_ttl=self.result_ttl,
            scripts=self.scripts,
        )

    def _shard_name(self, job_id: str) -> str:
        return self.shard(job_id).name

    def rate_limiter(self, limits: RateLimits, **options: Any) -> RedisRateLimiter:
        """The queue's shared S3 rate limits: one schedule per bucket, shared by the shards."""
        return RedisRateLimiter(self.redis, self.home, limits, scripts=self.scripts, **options)

    # -- the operator's side ----------------------------------------------------------------------

    @cached_property
    def control(self) -> Control:
        """Cancel, pause and resume, over every shard."""
        if self.single is not None:
            return self.single.control
        return ShardedControl(self)

    def job_control(self, job_id: str) -> RedisJobControl:
        """A running job's view of its cancel and pause flags."""
        job_id = self.job_id(job_id)
        return self.shard(job_id).job_control(job_id)

    async def cancel(self, job_ids: Sequence[str]) -> list[bool]:
        """Cancels jobs; per job, True when it will not complete normally."""
        return await self.control.cancel(job_ids)

    async def pause(self) -> bool:
        """Pauses the queue (every shard); False if it was paused already."""
        return await self.control.pause_queue()

    async def resume(self) -> bool:
        """Resumes the queue and wakes an idle worker; False if it was not paused."""
        return await self.control.resume_queue()

    async def paused(self) -> bool:
        """Whether the queue is paused."""
        return await self.control.queue_paused()

    async def pause_job(self, job_id: str) -> bool:
        """Pauses a migration or prefix delete (``Control.pause_job``)."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).pause_job(job_id)

    async def resume_job(self, job_id: str) -> bool:
        """Resumes a paused prefix job; False if it was not paused."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).resume_job(job_id)

    async def job_paused(self, job_id: str) -> bool:
        """Whether a prefix job is paused."""
        job_id = self.job_id(job_id)
        return await self.shard(job_id).job_paused(job_id)

    # -- reading ----------------------------------------------------------------------------------

    @cached_property
    def listings(self) -> Listings:
        """Its job lists and job records, every shard's merged (the dashboard's reads)."""
        return Listings(self)

    async def status(self, job_id: str) -> JobStatus:
        """Where a job is (one round trip)."""
        return await self.shard(job_id).status(self.job_id(job_id))

    async def result(self, job_id: str) -> ResultRecord | None:
        """A job's final outcome, or None while it may still run."""
        return await self.shard(job_id).result(self.job_id(job_id))

    async def stored_result(self, job_id: str) -> ResultRecord | None:
        """The job's stored result record, if any (no dead letter stands in for it)."""
        return await self.shard(job_id).stored_result(self.job_id(job_id))

    async def lease_holder(self, job_id: str) -> str | None:
        """The id of the worker whose lease on the job is live, if any."""
        return await self.shard(job_id).lease_holder(self.job_id(job_id))

    async def depth(self, *, in_progress_limit: int = IN_PROGRESS_LIMIT) -> QueueDepth:
        """Ready, running and deferred jobs, all lanes and shards summed (``queue_depth``)."""
        if self.single is not None:
            return await self.single.depth(in_progress_limit=in_progress_limit)
        depths = await asyncio.gather(
            *(s.depth(in_progress_limit=in_progress_limit) for s in self.shards)
        )
        return merge_depths(self.name, depths)

    async def info(
        self,
        *,
        health_check_interval: float = 5.0,
        kind_sample: int = KIND_SAMPLE,
        in_progress_limit: int = IN_PROGRESS_LIMIT,
    ) -> QueueInfo:
        """Everything ``storage-jobs queue`` shows (``queue_info``), every shard's merged."""
        if self.single is not None and not self.layout.tagged:
            return await queue_info(
                self.redis,
                self.name,
                health_check_interval=health_check_interval,
                kind_sample=kind_sample,
                in_progress_limit=in_progress_limit,
            )
        return await sharded_info(
            self,
            health_check_interval=health_check_interval,
            kind_sample=kind_sample,
            in_progress_limit=in_progress_limit,
        )

    async def eviction_policy(self, *, declared: str | None = None) -> EvictionPolicy:
        """Redis's eviction policy, and whether queued jobs are safe from it."""
        return await self.shards[0].eviction_policy(declared=declared)

    # -- schedules --------------------------------------------------------------------------------

    @cached_property
    def schedules(self) -> ScheduleStore:
        """The queue's schedules, under its ``home`` name (one slot on a tagged queue)."""
        return ScheduleStore(self.redis, self.home, self.scripts)

    async def fire_schedules(self, now_ms: int) -> TickRound:
        """Enqueues the due schedules' ticks, each once however many workers call (``fire_due``)."""
        return await fire_due(self, now_ms)

    # -- completion events -----------------------------------------------------------------------

    def events(self, since: str | None = None) -> EventReader:
        """A resumable read of the queue's completion events, every shard's (``_event_stream``).

        Raises:
            ValueError: If ``since`` is not an event id (cursor) of this queue.
        """
        return EventReader(self, since)

    def event_groups(self, consumer: str) -> list[EventGroup]:
        """The webhooks' consumer group on each shard's events stream, for ``consumer``."""
        return [EventGroup(self.redis, s.keys.events, consumer) for s in self.shards]

    # -- heartbeats -------------------------------------------------------------------------------

    async def heartbeat(self, beat: Heartbeat, *, ttl: float, also: str | None = None) -> None:
        """Stores a worker's heartbeat for ``ttl`` seconds, under the queue's ``home`` name."""
        await write_heartbeat(self.redis, self.home, beat, ttl=ttl, also=also)

    async def remove_heartbeat(self, worker_id: str) -> None:
        """Forgets a worker at once (it stopped cleanly)."""
        await remove_heartbeat(self.redis, self.home, worker_id)

    # -- waking -----------------------------------------------------------------------------------

    async def push_wake(self) -> None:
        """Pushes a wake token (idle workers block on every shard's list): one claims at once."""
        await self.shards[0].push_wake()

    async def wait_for_wake(self, timeout_s: float) -> bool:
        """Blocks until a wake token arrives on any shard (True) or ``timeout_s`` passes."""
        if self.single is not None:
            return await self.single.wait_for_wake(timeout_s)
        return await wait_for_any_wake(self.redis, [s.keys.wake for s in self.shards], timeout_s)
