"""How one queue's work spreads over its shards: enqueues split, claims in turn, answers merged.

Each function takes the logical ``Queue`` and asks its shards: enqueues go to each job's shard
(one call per shard per batch, all concurrent, every job checked before any is written), a claim
takes the shards in turn from the one the queue names, and their answers are merged the way one
queue's would read.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from redis.asyncio import RedisCluster

from ..errors import QueueUnavailableError
from ._claim import Claim
from ._enqueue import NewJob, check_new_jobs
from ._info import QueueDepth, QueueInfo, ShardInfo, live_workers, queue_info
from ._keys import LANES
from ._shards import shard_nodes, slot_ranges

if TYPE_CHECKING:
    from ..jobs import JobLimits
    from ._queue import Queue

__all__ = [
    "claim_over_shards",
    "enqueue_over_shards",
    "merge_claims",
    "merge_depths",
    "sharded_info",
]


async def enqueue_over_shards(
    queue: Queue, items: Sequence[NewJob], limits: JobLimits | None
) -> list[tuple[str, bool]]:
    """``Queue.enqueue_many`` on a tagged queue: ids tagged, one call per shard per batch."""
    check_new_jobs(items, limits)
    tagged = [replace(i, job_id=queue.job_id(i.job_id or uuid.uuid4().hex)) for i in items]
    groups: dict[int, list[int]] = {}
    for position, item in enumerate(tagged):
        groups.setdefault(queue.layout.index(item.job_id or ""), []).append(position)
    order = list(groups)
    answers = await asyncio.gather(
        *(queue.shards[s].enqueue_many([tagged[p] for p in groups[s]]) for s in order),
        return_exceptions=True,
    )
    failures = [a for a in answers if isinstance(a, BaseException)]
    if failures:
        raise _with_enqueued(failures[0], answers)
    out: list[tuple[str, bool]] = [("", False)] * len(items)
    for shard_index, answer in zip(order, answers, strict=True):
        assert not isinstance(answer, BaseException)
        for position, pair in zip(groups[shard_index], answer, strict=True):
            out[position] = pair
    return out


async def claim_over_shards(
    queue: Queue, start: int, want: int, now_ms: int, *, scan: int, bulk: int | None
) -> Claim:
    """``Queue.claim`` over shards from ``start`` on, the next ones only for slots left free."""
    count = len(queue.shards)
    claims: list[Claim] = []
    for step in range(count):
        left = want - sum(len(c) for c in claims)
        if left <= 0:
            break
        taken_bulk = sum(c.lane == "bulk" for claim in claims for c in claim.run)
        shard_bulk = None if bulk is None else max(0, bulk - taken_bulk)
        shard = queue.shards[(start + step) % count]
        claims.append(await shard.claim(left, now_ms, scan=scan, bulk=shard_bulk))
    return merge_claims(claims, complete=len(claims) == count)


def merge_claims(claims: Sequence[Claim], *, complete: bool) -> Claim:
    """One claim from the shards' claims of one turn.

    Args:
        claims: Each asked shard's claim, in the order asked.
        complete: Every shard was asked (else the first ones filled the worker's slots).
    """
    run = [c for claim in claims for c in claim.run]
    cancelled = [j for claim in claims for j in claim.cancelled]
    expired = [c for claim in claims for c in claim.expired]
    soonest = [c.next_due_ms for c in claims if c.next_due_ms is not None]
    took = bool(run or cancelled or expired)
    return Claim(
        paused=complete and all(c.paused for c in claims),
        run=run,
        cancelled=cancelled,
        expired=expired,
        bulk_capped=any(c.bulk_capped for c in claims),
        next_due_ms=min(soonest) if soonest and not took and complete else None,
        calls=sum(c.calls for c in claims),
        missed=any(c.missed for c in claims),
    )


def merge_depths(queue: str, depths: Sequence[QueueDepth]) -> QueueDepth:
    """The shards' depths as one queue's: counts summed, the oldest age the largest."""
    total = _sum(queue, depths)
    for lane in LANES:
        if per_shard := [d.lanes[lane] for d in depths if lane in d.lanes]:
            total.lanes[lane] = _sum(queue, per_shard)
    return total


def _sum(queue: str, depths: Sequence[QueueDepth]) -> QueueDepth:
    return QueueDepth(
        queue=queue,
        depth=sum(d.depth for d in depths),
        in_progress=sum(d.in_progress for d in depths),
        deferred=sum(d.deferred for d in depths),
        oldest_age=max(d.oldest_age for d in depths),
        in_progress_exact=all(d.in_progress_exact for d in depths),
    )


async def sharded_info(
    queue: Queue, *, health_check_interval: float, kind_sample: int, in_progress_limit: int
) -> QueueInfo:
    """``queue_info`` of a sharded queue: every shard's, merged, and where each shard lives."""
    parts = await asyncio.gather(
        *(
            queue_info(
                queue.redis,
                shard.name,
                health_check_interval=health_check_interval,
                kind_sample=max(1, kind_sample // len(queue.shards)),
                in_progress_limit=in_progress_limit,
            )
            for shard in queue.shards
        )
    )
    nodes: list[str | None] = [None] * len(queue.shards)
    if isinstance(queue.redis, RedisCluster):
        ranges = slot_ranges(await queue.redis.cluster_slots())
        nodes = [r.address if r else None for r in shard_nodes(queue.layout.tags, ranges)]
    kinds: dict[str, int] = {}
    for part in parts:
        for name, count in part.kinds.items():
            kinds[name] = kinds.get(name, 0) + count
    max_age = 3 * health_check_interval
    workers = await live_workers(queue.redis, queue.home, max_age=max_age)
    return QueueInfo(
        counts=merge_depths(queue.name, [p.counts for p in parts]),
        kinds=kinds,
        kinds_sampled=any(p.kinds_sampled for p in parts),
        kinds_sample_size=sum(p.kinds_sample_size for p in parts),
        dead_letters=sum(p.dead_letters for p in parts),
        workers=tuple(workers),
        worker_max_age=max_age,
        at=min(p.at for p in parts),
        paused=any(p.paused for p in parts),
        shards=tuple(
            ShardInfo(shard.name, node, part.counts)
            for shard, node, part in zip(queue.shards, nodes, parts, strict=True)
        ),
    )


def _with_enqueued(failure: BaseException, answers: Sequence[Any]) -> BaseException:
    """A shard's refusal, naming the jobs every other shard wrote too."""
    if not isinstance(failure, QueueUnavailableError):
        return failure
    written = [
        job_id
        for answer in answers
        if not isinstance(answer, BaseException)
        for job_id, ok in answer
        if ok
    ]
    return type(failure)(failure.reason, (*failure.enqueued, *written))
