"""Ready, running or deferred: the one place that tells a lane's jobs apart.

A lane's sorted set holds every unfinished job, scored by when it may run (ms). A job is
**running** while a worker holds its lease (``QueueKeys.in_progress``), whatever its score;
otherwise it is **ready** when its score is due (``<= now``) and **deferred** when it is later
(deferred by its producer, or a retry backing off).

Running jobs are found without scanning the keyspace. The claim moves a taken job's score to its
lease's deadline and every renewal moves it on (``Queue.renew``), so our workers' running jobs
sit among the *soonest later* scores (a deadline is at most one lease ahead); a job held by plain
arq, which moves no score, sits among the *oldest due* ones. So each side of now is told apart by
reading the leases of its first ``check`` ids (one ``MGET`` per 1,000): a count is exact whenever
its side holds no more than ``check`` jobs, and a deferred list never shows a running job among
the soonest ``check``. ``queue_depth`` (the CLI, the metrics, the dashboard's overview) and
``list_ids`` (the dashboard's lists) read every count through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._keys import QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["LEASES_CHECKED", "LaneSide", "Side", "read_sides"]

LEASES_CHECKED = 1000
"""Ids checked for a lease on each side of now, per lane, by the dashboard and the metrics."""

Side = Literal["due", "later"]
"""Jobs scored up to now (ready, or held by plain arq) or after it (deferred, or running)."""

_MGET_BATCH = 1000


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class LaneSide:
    """One side of now of one lane at one instant: its jobs, and which of the first are running.

    Attributes:
        lane: The lane's sorted set.
        side: ``due`` (score ``<= now_ms``) or ``later``.
        now_ms: The instant the side was read at.
        count: Jobs on this side, running ones included.
        head: The first ids on this side (soonest score first) with their scores (ms): the
            ones checked for a lease.
        held: The ids of ``head`` whose lease is live: running jobs.
    """

    lane: str
    side: Side
    now_ms: int
    count: int
    head: tuple[tuple[str, float], ...]
    held: frozenset[str]

    @property
    def running(self) -> int:
        """Running jobs found on this side."""
        return len(self.held)

    @property
    def waiting(self) -> int:
        """Jobs on this side that no worker holds: ready (``due``) or deferred (``later``)."""
        # The count may be read a moment after the head: a claim in between makes it smaller.
        return max(0, self.count - self.running)

    @property
    def exact(self) -> bool:
        """Whether every job on this side was checked for a lease."""
        return len(self.head) >= self.count

    @property
    def oldest_waiting(self) -> float | None:
        """The score (ms) of the first job on this side no worker holds; None if none was seen."""
        return next((score for job_id, score in self.head if job_id not in self.held), None)

    def bounds(self) -> tuple[str | int, str | int]:
        """This side's score range, for ``ZRANGEBYSCORE``/``ZCOUNT``."""
        return ("-inf", self.now_ms) if self.side == "due" else (f"({self.now_ms}", "+inf")

    async def page(self, redis: Redis, skip: int, want: int) -> list[tuple[str, float]]:
        """Up to ``want`` waiting jobs after skipping ``skip`` of them, with scores (ms).

        One ``ZRANGEBYSCORE``: the held ids' places in ``head`` tell where the ``skip``-th
        waiting job sits, and the few held ids in the range read are dropped.
        """
        if want <= 0:
            return []
        ranks = [rank for rank, (job_id, _) in enumerate(self.head) if job_id in self.held]
        start = skip
        for rank in ranks:  # each held id at or before the start pushes it one further
            if rank > start:
                break
            start += 1
        extra = sum(1 for rank in ranks if rank >= start)
        low, high = self.bounds()
        got = await redis.zrangebyscore(
            self.lane, low, high, start=start, num=want + extra, withscores=True
        )
        rows = [(_text(member), float(score)) for member, score in got]
        return [(job_id, score) for job_id, score in rows if job_id not in self.held][:want]


async def read_sides(
    redis: Redis, lanes: Sequence[str], sides: Sequence[Side], *, now_ms: int, check: int
) -> list[LaneSide]:
    """Reads the given sides of each lane (lane by lane, in ``sides`` order).

    Two round trips in all: a ``ZRANGEBYSCORE ... LIMIT 0 check`` per side, then one ``MGET``
    per 1,000 ids read and a ``ZCOUNT`` of each side whose first ``check`` ids were all there
    was room for (a side with fewer is counted by its head: an idle worker's gauges cost one
    command a side).
    """
    wanted = [(lane, side) for lane in lanes for side in sides]
    bounds = [("-inf", now_ms) if side == "due" else (f"({now_ms}", "+inf") for _, side in wanted]
    heads: list[tuple[tuple[str, float], ...]] = [() for _ in wanted]
    if check > 0:
        async with redis.pipeline(transaction=False) as pipe:
            for (lane, _), (low, high) in zip(wanted, bounds, strict=True):
                pipe.zrangebyscore(lane, low, high, start=0, num=check, withscores=True)
            heads = [tuple((_text(m), float(s)) for m, s in got) for got in await pipe.execute()]
    full = [n for n, head in enumerate(heads) if check <= 0 or len(head) >= check]
    ids = [job_id for head in heads for job_id, _ in head]
    counts = {n: len(head) for n, head in enumerate(heads)}
    leases: list[bytes | None] = []
    if ids or full:
        async with redis.pipeline(transaction=False) as pipe:
            for n in full:
                pipe.zcount(wanted[n][0], *bounds[n])
            for start in range(0, len(ids), _MGET_BATCH):
                # By name: redis-py's cluster pipeline blocks its ``mget`` (the keys of one
                # shard's ids share a slot, so the command itself is fine there).
                batch = ids[start : start + _MGET_BATCH]
                pipe.execute_command("MGET", *(QueueKeys.in_progress(i) for i in batch))
            answers = await pipe.execute()
        counts.update({n: int(answers[i]) for i, n in enumerate(full)})
        leases = [value for chunk in answers[len(full) :] for value in chunk]
    held = {job_id for job_id, lease in zip(ids, leases, strict=True) if lease is not None}
    return [
        LaneSide(
            lane=lane,
            side=side,
            now_ms=now_ms,
            count=counts[n],
            head=head,
            held=frozenset(job_id for job_id, _ in head if job_id in held),
        )
        for n, ((lane, side), head) in enumerate(zip(wanted, heads, strict=True))
    ]
