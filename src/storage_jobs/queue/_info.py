"""What a queue holds and who works on it: depth, deferred and running jobs, kinds, workers.

Everything is read with a bounded number of commands: no ``SCAN``/``KEYS`` over the keyspace, and
per-job reads are capped (``kinds`` are counted on a sample of a large queue).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from pydantic import ConfigDict

from ._dead_letters import DeadLetterStore
from ._heartbeat import Heartbeat, read_heartbeats
from ._keys import LANES, Priority, QueueKeys
from ._running import LaneSide, read_sides
from ._wire import peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "QueueDepth",
    "QueueInfo",
    "ShardInfo",
    "WorkerInfo",
    "live_workers",
    "queue_depth",
    "queue_info",
]

KIND_SAMPLE = 10_000
"""Queued jobs whose payload is read to count kinds; larger queues are sampled."""

IN_PROGRESS_LIMIT = 100_000
"""Jobs checked for a running lease on each side of now, per lane (``_running``): the oldest
ready ones (plain arq holds jobs there) and the soonest later ones (a running job's score is its
lease's deadline)."""

_READ_BATCH = 1000
_PAYLOAD_PREFIX = 256  # the function name sits in the first bytes of arq's envelope

UNREADABLE_KIND = "<unreadable>"
"""The kind reported for a payload that names no function (a pickle, garbage)."""


@dataclass(frozen=True)
class QueueDepth:
    """The cheap counts of a queue (what metrics poll).

    Attributes:
        queue: The queue name.
        depth: Jobs ready to run now that no worker has taken yet.
        in_progress: Jobs a worker holds a lease on.
        deferred: Jobs waiting for a time in the future (deferred, or retries backing off);
            running jobs are not counted here, though their score (the lease's deadline) is
            in the future too.
        oldest_age: Seconds since the oldest ready job became ready (0 when none is).
        in_progress_exact: False when a side of now of a lane (its due jobs, or its later
            ones) held more than the limit checked, so only its soonest were checked for a
            lease.
        lanes: The same counts per lane (``high``, ``normal``, ``bulk``); the fields above
            are their sums (``oldest_age`` their maximum). Empty for one lane's own counts.
    """

    queue: str
    depth: int
    in_progress: int
    deferred: int
    oldest_age: float
    in_progress_exact: bool = True
    lanes: dict[Priority, QueueDepth] = field(default_factory=dict)

    @property
    def ready(self) -> int:
        """Jobs due now or running."""
        return self.depth + self.in_progress

    @property
    def total(self) -> int:
        """Every job in the queue's sorted set."""
        return self.depth + self.in_progress + self.deferred


class WorkerInfo(Heartbeat):
    """One worker with a recent heartbeat: what it says of itself, and how long ago it said it.

    Attributes:
        last_beat_age: Seconds since its last heartbeat.
    """

    model_config = ConfigDict(frozen=True)

    last_beat_age: float


@dataclass(frozen=True)
class ShardInfo:
    """One shard of a sharded queue: where it lives and its counts.

    Attributes:
        name: The shard's queue name (``<queue>{<tag>}``).
        node: ``host:port`` of the cluster master holding it; None on one server.
        counts: Its depth, running and deferred jobs.
    """

    name: str
    node: str | None
    counts: QueueDepth

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        c = self.counts
        return {
            "name": self.name,
            "node": self.node,
            "depth": c.depth,
            "in_progress": c.in_progress,
            "deferred": c.deferred,
        }


@dataclass(frozen=True)
class QueueInfo:
    """A queue at one moment: its counts, kinds, dead letters and live workers.

    Attributes:
        counts: Depth, running and deferred jobs, oldest age.
        kinds: Queued jobs per function name (``<unreadable>`` for undecodable payloads).
        kinds_sampled: True when ``kinds`` counts a random sample of the queue.
        kinds_sample_size: How many queued jobs ``kinds`` looked at.
        dead_letters: Dead letters kept for this queue.
        workers: Workers whose heartbeat is newer than ``worker_max_age``.
        worker_max_age: Seconds a heartbeat counts as live.
        at: Unix time the numbers were read.
        paused: Whether the queue is paused (workers take nothing new).
        shards: Each shard of a sharded queue (empty for a queue of one unsharded).
    """

    counts: QueueDepth
    kinds: dict[str, int]
    kinds_sampled: bool
    kinds_sample_size: int
    dead_letters: int
    workers: tuple[WorkerInfo, ...]
    worker_max_age: float
    at: float = field(default_factory=time.time)
    paused: bool = False
    shards: tuple[ShardInfo, ...] = ()

    @property
    def queue(self) -> str:
        """The queue name."""
        return self.counts.queue

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the counts flattened in)."""
        return {
            "queue": self.queue,
            "at": self.at,
            "paused": self.paused,
            "depth": self.counts.depth,
            "in_progress": self.counts.in_progress,
            "in_progress_exact": self.counts.in_progress_exact,
            "deferred": self.counts.deferred,
            "total": self.counts.total,
            "oldest_age": self.counts.oldest_age,
            "lanes": {
                name: {
                    "depth": lane.depth,
                    "in_progress": lane.in_progress,
                    "deferred": lane.deferred,
                    "total": lane.total,
                    "oldest_age": lane.oldest_age,
                }
                for name, lane in self.counts.lanes.items()
            },
            "kinds": dict(self.kinds),
            "kinds_sampled": self.kinds_sampled,
            "kinds_sample_size": self.kinds_sample_size,
            "dead_letters": self.dead_letters,
            "worker_max_age": self.worker_max_age,
            "workers": [w.model_dump() for w in self.workers],
            "shards": [shard.as_dict() for shard in self.shards],
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def queue_depth(
    redis: Redis, queue_name: str, *, in_progress_limit: int = IN_PROGRESS_LIMIT
) -> QueueDepth:
    """Counts a queue's ready, running and deferred jobs, and the oldest ready job's age.

    Each lane is counted (``QueueDepth.lanes``) and the counts summed. Whether a job is ready,
    running or deferred is ``_running``'s to say: the first ``in_progress_limit`` jobs of each
    side of now of each lane are checked for a lease (a running job's score is its lease's
    deadline, so our workers' running jobs are the soonest after now). Costs two round trips: a
    ``ZCOUNT`` and a ``ZRANGEBYSCORE`` per side of each lane, then one ``MGET`` per 1,000 ids.
    """
    keys = QueueKeys(queue_name)
    now_ms = int(time.time() * 1000)
    sides = await read_sides(
        redis, keys.lanes, ("due", "later"), now_ms=now_ms, check=in_progress_limit
    )
    lanes = {
        name: _lane_depth(queue_name, sides[2 * n], sides[2 * n + 1])
        for n, name in enumerate(LANES)
    }
    counts = list(lanes.values())
    return QueueDepth(
        queue=queue_name,
        depth=sum(c.depth for c in counts),
        in_progress=sum(c.in_progress for c in counts),
        deferred=sum(c.deferred for c in counts),
        oldest_age=max(c.oldest_age for c in counts),
        in_progress_exact=all(c.in_progress_exact for c in counts),
        lanes=lanes,
    )


def _lane_depth(queue_name: str, due: LaneSide, later: LaneSide) -> QueueDepth:
    """One lane's counts from its two sides of now (see ``queue_depth``)."""
    oldest_age = 0.0
    oldest = due.oldest_waiting
    if oldest is None and due.waiting and due.head:
        oldest = due.head[-1][1]  # every job checked is held: the oldest ready one is later
    if due.waiting and oldest is not None:
        oldest_age = max(0.0, (due.now_ms - oldest) / 1000)
    return QueueDepth(
        queue=queue_name,
        depth=due.waiting,
        in_progress=due.running + later.running,
        deferred=later.waiting,
        oldest_age=round(oldest_age, 3),
        in_progress_exact=due.exact and later.exact,
    )


async def job_kinds(
    redis: Redis, queue_name: str, *, sample: int = KIND_SAMPLE
) -> tuple[dict[str, int], bool, int]:
    """Counts queued jobs per function name, reading the first bytes of each payload.

    Returns:
        ``(counts, sampled, looked_at)``: ``sampled`` is True when a lane held more than
        ``sample`` jobs and a random sample of that size was read from it.
    """
    keys = QueueKeys(queue_name)
    counts: Counter[str] = Counter()
    sampled, looked_at = False, 0
    for name in LANES:
        lane_counts, lane_sampled, lane_looked = await _lane_kinds(
            redis, keys, keys.lane(name), sample
        )
        counts.update(lane_counts)
        sampled, looked_at = sampled or lane_sampled, looked_at + lane_looked
    return dict(counts.most_common()), sampled, looked_at


async def _lane_kinds(
    redis: Redis, keys: QueueKeys, queue_name: str, sample: int
) -> tuple[dict[str, int], bool, int]:
    """``job_kinds`` of one lane's sorted set."""
    total = int(await redis.zcard(queue_name))
    if total == 0 or sample <= 0:
        return {}, False, 0
    sampled = total > sample
    members: Sequence[bytes | str]
    if sampled:
        members = await cast(Awaitable[list[bytes]], redis.zrandmember(queue_name, sample))
    else:
        members = await redis.zrange(queue_name, 0, -1)
    counts: Counter[str] = Counter()
    looked_at = 0
    for start in range(0, len(members), _READ_BATCH):
        chunk = members[start : start + _READ_BATCH]
        async with redis.pipeline(transaction=False) as pipe:
            for member in chunk:
                pipe.getrange(keys.job(_text(member)), 0, _PAYLOAD_PREFIX - 1)
            heads: list[bytes] = await pipe.execute()
        for head in heads:
            if not head:
                continue  # finished since we listed it
            looked_at += 1
            counts[peek_function(head) or UNREADABLE_KIND] += 1
    return dict(counts.most_common()), sampled, looked_at


async def live_workers(redis: Redis, queue_name: str, *, max_age: float) -> list[WorkerInfo]:
    """Workers of this queue whose last heartbeat is at most ``max_age`` seconds old."""
    return [
        WorkerInfo(**beat.model_dump(), last_beat_age=age)
        for beat, age in await read_heartbeats(redis, queue_name, max_age=max_age)
    ]


async def queue_info(
    redis: Redis,
    queue_name: str,
    *,
    health_check_interval: float = 5.0,
    kind_sample: int = KIND_SAMPLE,
    in_progress_limit: int = IN_PROGRESS_LIMIT,
) -> QueueInfo:
    """Everything ``storage-jobs queue`` shows about one queue.

    Args:
        redis: A connection.
        queue_name: The queue.
        health_check_interval: The workers' heartbeat interval; a worker is live when its last
            heartbeat is newer than three intervals.
        kind_sample: Payloads read at most to count kinds.
        in_progress_limit: Jobs checked at most for a running lease on each side of now of
            each lane.
    """
    at = time.time()
    counts = await queue_depth(redis, queue_name, in_progress_limit=in_progress_limit)
    kinds, sampled, looked_at = await job_kinds(redis, queue_name, sample=kind_sample)
    dead = await DeadLetterStore(redis, queue_name).count()
    max_age = 3 * health_check_interval
    workers = await live_workers(redis, queue_name, max_age=max_age)
    paused = bool(await redis.exists(QueueKeys(queue_name).paused))
    return QueueInfo(
        counts=counts,
        kinds=kinds,
        kinds_sampled=sampled,
        kinds_sample_size=looked_at,
        dead_letters=dead,
        workers=tuple(workers),
        worker_max_age=max_age,
        at=at,
        paused=paused,
    )
