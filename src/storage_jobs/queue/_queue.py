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

from dataclasses import replace
from typing import TYPE_CHECKING, cast

from ._events import EVENTS_MAXLEN
from ._keys import QueueKeys
from ._operator_side import OperatorSide
from ._reader_side import ReaderSide
from ._scripts import ReplicaWait, Scripts
from ._shard import RESULT_TTL_S, Shard
from ._shards import ShardLayout
from ._spread import enqueue_over_shards
from ._worker_side import WorkerSide

if TYPE_CHECKING:
    from collections.abc import Sequence

    from redis.asyncio import Redis, RedisCluster

    from ..jobs import JobLimits
    from ..tracing import Tracer
    from ._enqueue import NewJob

__all__ = ["RESULT_TTL_S", "Queue"]


class Queue(WorkerSide, OperatorSide, ReaderSide):
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
