"""Chaos run helpers: sizes, deterministic content, the monkey, log counting and results."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis

from storage_jobs.worker import decode
from tests.workers import WorkerProcess

TEST_CLIENT_NAME = "chaos-test"
"""CLIENT SETNAME of the test's own Redis connections: the monkey never kills these."""


@dataclass(frozen=True)
class ChaosSize:
    """How big a chaos run is.

    Attributes:
        workers: Worker processes.
        uploads: UploadJobs (inline data).
        copies: CopyJobs of uploaded objects (enqueued as their upload finishes).
        delete_jobs: Key counts of the DeleteJobs over pre-created keys.
        migrate_objects: Objects under the migrated prefix.
        prefix_objects: Objects under the prefix a DeletePrefixJob removes.
        batch_size: Page size of the prefix jobs.
        missing_copies: CopyJobs of keys that do not exist (permanent failures).
        denied_keys: Keys the proxy refuses to delete with AccessDenied, forever.
        kill_every: Seconds between SIGKILLs of a random worker.
        redis_kill_every: Seconds between kills of every worker Redis connection.
        spread_s: Seconds over which the jobs become due, in ``waves`` deferred groups, so
            the chaos meets work in flight for the whole run.
        waves: Deferred groups the jobs are enqueued in.
        latency_s: Latency the proxy adds to every S3 request.
        timeout: Seconds to wait for every result.
    """

    workers: int
    uploads: int
    copies: int
    delete_jobs: tuple[int, ...]
    migrate_objects: int
    prefix_objects: int
    batch_size: int
    missing_copies: int
    denied_keys: int
    kill_every: float
    redis_kill_every: float
    spread_s: float
    waves: int
    latency_s: float
    timeout: float


SIZES = {
    "small": ChaosSize(
        workers=3,
        uploads=150,
        copies=60,
        delete_jobs=(10, 40, 120, 300),
        migrate_objects=150,
        prefix_objects=150,
        batch_size=50,
        missing_copies=3,
        denied_keys=3,
        kill_every=4.0,
        redis_kill_every=3.0,
        spread_s=45.0,
        waves=15,
        latency_s=0.5,
        timeout=150.0,
    ),
    "full": ChaosSize(
        workers=4,
        uploads=2000,
        copies=1000,
        delete_jobs=(5, 50, 200, 500, 1000) * 6,
        migrate_objects=2000,
        prefix_objects=2000,
        batch_size=250,
        missing_copies=20,
        denied_keys=10,
        kill_every=5.0,
        redis_kill_every=3.0,
        spread_s=240.0,
        waves=60,
        latency_s=0.2,
        timeout=1500.0,
    ),
}


def content_for(key: str) -> bytes:
    """Deterministic bytes for ``key``: 64 .. 4159 bytes derived from its SHA-256."""
    digest = hashlib.sha256(key.encode()).digest()
    size = 64 + int.from_bytes(digest[:2], "big") % 4096
    return (digest * (size // len(digest) + 1))[:size]


@dataclass
class Monkey:
    """Kills a random worker (and restarts it) and the workers' Redis connections, on a timer.

    Attributes:
        workers: The live incarnation of each worker slot.
        retired: Every killed incarnation (their logs count too).
    """

    workers: list[WorkerProcess]
    spawn: Callable[[int], WorkerProcess]
    redis: Redis
    rng: random.Random
    kill_every: float
    redis_kill_every: float
    retired: list[WorkerProcess] = field(default_factory=list)
    kills: int = 0
    restarts: int = 0
    redis_kill_rounds: int = 0
    redis_connections_killed: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Runs both loops until ``stop()``."""
        await asyncio.gather(self._kill_workers(), self._kill_connections())

    def stop(self) -> None:
        """Ends the loops after their current step."""
        self._stop.set()

    async def _sleep(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def _kill_workers(self) -> None:
        while await self._sleep(self.kill_every * self.rng.uniform(0.5, 1.5)):
            slot = self.rng.randrange(len(self.workers))
            victim = self.workers[slot]
            await asyncio.to_thread(victim.kill)
            victim.stop()  # closes its log file
            self.kills += 1
            self.retired.append(victim)
            self.workers[slot] = await asyncio.to_thread(self.spawn, slot)
            self.restarts += 1

    async def _kill_connections(self) -> None:
        while await self._sleep(self.redis_kill_every * self.rng.uniform(0.5, 1.5)):
            self.redis_connections_killed += await kill_worker_connections(self.redis)
            self.redis_kill_rounds += 1


async def kill_worker_connections(redis: Redis) -> int:
    """``CLIENT KILL``s every normal connection not named ``TEST_CLIENT_NAME``; returns count."""
    clients = await redis.client_list(_type="normal")
    victims = [c["id"] for c in clients if c.get("name") != TEST_CLIENT_NAME]
    killed = 0
    for client_id in victims:
        killed += int(await redis.client_kill_filter(_id=client_id))
    return killed


def log_events(workers: Iterable[WorkerProcess]) -> list[dict[str, Any]]:
    """Every JSON log event of these worker processes."""
    return [event for worker in workers for event in worker.events()]


async def wait_for_results(
    redis: Redis,
    job_ids: Iterable[str],
    *,
    timeout: float,
    on_result: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
    more: Callable[[], list[str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Polls arq's result keys (MGET, 500 at a time) until every job has one.

    Args:
        redis: A connection to the queue's Redis.
        job_ids: Jobs to wait for.
        timeout: Seconds before giving up.
        on_result: Called for each result as it appears (e.g. to enqueue follow-up jobs).
        more: Returns job ids enqueued since the last call, to wait for as well.

    Returns:
        job id -> decoded arq result.

    Raises:
        AssertionError: Naming the jobs without a result after ``timeout``.
    """
    pending = list(dict.fromkeys(job_ids))
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        if more is not None:
            pending.extend(more())
        still: list[str] = []
        for start in range(0, len(pending), 500):
            chunk = pending[start : start + 500]
            raws = await cast(
                Awaitable[list[bytes | None]], redis.mget([f"arq:result:{i}" for i in chunk])
            )
            for job_id, raw in zip(chunk, raws, strict=True):
                if raw is None:
                    still.append(job_id)
                    continue
                done[job_id] = decode(raw)
                if on_result is not None:
                    await on_result(job_id, done[job_id])
        pending = still
        if more is not None:
            pending.extend(more())
        if not pending:
            return done
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} jobs without a result, e.g. {pending[:10]}")
        await asyncio.sleep(0.5)


def write_report(report: dict[str, Any], path: str | None) -> None:
    """Prints the report, and writes it as JSON to ``path`` when given."""
    text = json.dumps(report, indent=2, sort_keys=True)
    print(f"chaos report:\n{text}")
    if path:
        Path(path).write_text(text + "\n")


def event_counts(events: Iterable[dict[str, Any]]) -> Counter[str]:
    """How many times each event name occurs."""
    return Counter(str(e.get("event")) for e in events)
