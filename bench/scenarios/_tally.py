"""replica_wait's figures: the master's counts between two moments, a side's over its passes."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import redis as sync_redis

from .redis_cost import cpu_seconds, per_command

__all__ = ["Side", "Tally"]

MEASURING_READS = 3
"""Reads of the bench's own ``INFO`` calls between two tallies (commandstats, stats, cpu)."""


@dataclass(frozen=True)
class Tally:
    """What the master has processed so far."""

    commands: int
    waits: int
    replconf: int
    reads: int
    cpu_s: float

    @classmethod
    def of(cls, client: sync_redis.Redis) -> Tally:
        """The master's counts now (the measuring calls and the replication link left out)."""
        calls = per_command(client)
        replconf = calls.pop("replconf", 0)
        reads = int(client.info("stats")["total_reads_processed"])  # type: ignore[index]
        return cls(sum(calls.values()), calls.get("wait", 0), replconf, reads, cpu_seconds(client))

    def since(self, start: Tally, n: int) -> dict[str, float]:
        """Per job (of ``n``) from ``start`` to this tally."""
        replconf = self.replconf - start.replconf
        reads = self.reads - start.reads - MEASURING_READS - replconf
        return {
            "commands": (self.commands - start.commands) / n,
            "waits": (self.waits - start.waits) / n,
            "replconf": replconf / n,
            "reads": reads / n,
            "cpu_us": (self.cpu_s - start.cpu_s) * 1e6 / n,
        }


@dataclass(frozen=True)
class Side:
    """One side's figures: per job over the queued uploads, per call over the single enqueues."""

    jobs: dict[str, float]
    rate: float
    enqueue_many_ms: float
    singles: dict[str, float]
    short_waits: float

    @classmethod
    def mean(cls, passes: list[Side]) -> Side:
        """The mean of a side's passes (short waits: their sum)."""
        return cls(
            jobs={k: statistics.mean(p.jobs[k] for p in passes) for k in passes[0].jobs},
            rate=statistics.mean(p.rate for p in passes),
            enqueue_many_ms=statistics.mean(p.enqueue_many_ms for p in passes),
            singles={k: statistics.mean(p.singles[k] for p in passes) for k in passes[0].singles},
            short_waits=sum(p.short_waits for p in passes),
        )
