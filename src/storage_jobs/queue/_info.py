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

from ._deadletters import DeadLetterStore
from ._heartbeat import Heartbeat, read_heartbeats
from ._keys import LANES, Priority, QueueKeys
from ._wire import peek_function

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "QueueDepth",
    "QueueInfo",
    "WorkerInfo",
    "live_workers",
    "queue_depth",
    "queue_info",
]

KIND_SAMPLE = 10_000
"""Queued jobs whose payload is read to count kinds; larger queues are sampled."""

IN_PROGRESS_LIMIT = 100_000
"""Jobs (soonest score first) checked for a running lease; a running job's score is its lease's
deadline, so running jobs come right after the ready ones."""

_EXISTS_BATCH = 1000
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
        deferred: Jobs waiting for a time in the future (deferred, or retries backing off).
        oldest_age: Seconds since the oldest ready job became ready (0 when none is).
        in_progress_exact: False when a lane held more than ``IN_PROGRESS_LIMIT`` jobs, so
            only the soonest of them were checked for a lease.
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
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def queue_depth(
    redis: Redis, queue_name: str, *, in_progress_limit: int = IN_PROGRESS_LIMIT
) -> QueueDepth:
    """Counts a queue's ready, running and deferred jobs, and the oldest ready job's age.

    Each lane is counted (``QueueDepth.lanes``) and the counts summed. A running job's score is
    its lease's deadline (the claim moves it there), so running jobs sit among the soonest
    scores: the first ``in_progress_limit`` jobs by score of a lane are checked for a lease.
    Costs four commands per lane plus one ``EXISTS`` per 1,000 jobs checked.
    """
    keys = QueueKeys(queue_name)
    lanes = {name: await _lane_depth(redis, keys, name, in_progress_limit) for name in LANES}
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


async def _lane_depth(
    redis: Redis, keys: QueueKeys, name: Priority, in_progress_limit: int
) -> QueueDepth:
    """One lane's counts (see ``queue_depth``)."""
    queue_name = keys.lane(name)
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(queue_name)
        pipe.zcount(queue_name, "-inf", now_ms)
        pipe.zrange(queue_name, 0, 0, withscores=True)
        total, ready, oldest = await pipe.execute()
    head: list[tuple[bytes, float]] = []
    if total:
        head = await redis.zrange(queue_name, 0, in_progress_limit - 1, withscores=True)
    due = [m for m, score in head if score <= now_ms]
    later = [m for m, score in head if score > now_ms]
    running_due = await _leased(redis, keys, due)
    running_later = await _leased(redis, keys, later)
    oldest_age = 0.0
    if ready and oldest:
        oldest_age = max(0.0, (now_ms - float(oldest[0][1])) / 1000)
    return QueueDepth(
        queue=keys.queue,
        depth=int(ready) - running_due,
        in_progress=running_due + running_later,
        deferred=int(total) - int(ready) - running_later,
        oldest_age=round(oldest_age, 3),
        in_progress_exact=int(total) <= in_progress_limit,
    )


async def _leased(redis: Redis, keys: QueueKeys, job_ids: Sequence[bytes | str]) -> int:
    """How many of the jobs have a live lease (one ``EXISTS`` per 1,000, pipelined)."""
    if not job_ids:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(job_ids), _EXISTS_BATCH):
            chunk = job_ids[start : start + _EXISTS_BATCH]
            pipe.exists(*(keys.in_progress(_text(i)) for i in chunk))
        return sum(int(n) for n in await pipe.execute())


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
    for start in range(0, len(members), _EXISTS_BATCH):
        chunk = members[start : start + _EXISTS_BATCH]
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
        in_progress_limit: Ready jobs checked at most for a running lease.
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
