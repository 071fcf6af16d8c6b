"""Worker heartbeats: the one shape a worker writes and every reader (CLI, dashboard) reads."""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from redis.asyncio import RedisCluster

from ._keys import QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["FORGET_AFTER", "Heartbeat", "read_heartbeats", "remove_heartbeat", "write_heartbeat"]

FORGET_AFTER = 3600.0
"""Seconds after which a silent worker leaves the index (its own key expired long before)."""


class Heartbeat(BaseModel):
    """What a live worker says of itself.

    Attributes:
        worker_id: ``<host>-<pid>-<random>``.
        host: Its host name.
        pid: Its process id.
        started_at: Unix time it started.
        heartbeat_at: Unix time of this heartbeat.
        jobs_complete: Jobs it completed since it started.
        jobs_failed: Jobs it failed since it started.
        jobs_retried: Retries it scheduled since it started.
        jobs_ongoing: Jobs it is running.
        max_jobs: Jobs it runs at once at most.
        version: The storage-jobs version it runs.
    """

    worker_id: str
    host: str | None = None
    pid: int | None = None
    started_at: float | None = None
    heartbeat_at: float | None = None
    jobs_complete: int | None = None
    jobs_failed: int | None = None
    jobs_retried: int | None = None
    jobs_ongoing: int | None = None
    max_jobs: int | None = None
    version: str | None = None


async def write_heartbeat(
    redis: Redis, queue_name: str, beat: Heartbeat, *, ttl: float, also: str | None = None
) -> None:
    """Stores a heartbeat (one round trip); it expires after ``ttl`` seconds without renewal.

    Args:
        redis: The connection.
        queue_name: The worker's queue.
        beat: The heartbeat.
        ttl: Seconds it counts for.
        also: Another key to write it to (arq's per-queue health key, read by ``arq --check``).
    """
    keys = QueueKeys(queue_name)
    now = beat.heartbeat_at or time.time()
    data = beat.model_dump_json()
    ttl_ms = int(ttl * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.workers, {beat.worker_id: int(now * 1000)})
        pipe.set(keys.worker(beat.worker_id), data, px=ttl_ms)
        if also is not None:
            pipe.psetex(also, ttl_ms, data.encode())
        pipe.zremrangebyscore(keys.workers, 0, int((now - FORGET_AFTER) * 1000))
        await pipe.execute()


async def remove_heartbeat(redis: Redis, queue_name: str, worker_id: str) -> None:
    """Forgets a worker at once (it stopped cleanly)."""
    keys = QueueKeys(queue_name)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.workers, worker_id)
        pipe.delete(keys.worker(worker_id))
        await pipe.execute()


async def read_heartbeats(
    redis: Redis, queue_name: str, *, max_age: float
) -> list[tuple[Heartbeat, float]]:
    """Heartbeats newer than ``max_age`` seconds, with their age, sorted by worker id.

    A worker whose description already expired (or is unreadable) still appears, by id only.
    """
    keys = QueueKeys(queue_name)
    now = time.time()
    beats = await redis.zrangebyscore(
        keys.workers, int((now - max_age) * 1000), "+inf", withscores=True
    )
    if not beats:
        return []
    ids = [m.decode() if isinstance(m, bytes) else str(m) for m, _ in beats]
    wanted = [keys.worker(i) for i in ids]
    # On a cluster the workers' keys lie in many slots: redis-py splits the read by slot there.
    raws = await (
        redis.mget_nonatomic(wanted) if isinstance(redis, RedisCluster) else redis.mget(wanted)
    )
    found = []
    for worker_id, (_, score), raw in zip(ids, beats, raws, strict=True):
        found.append((_parse(worker_id, raw), round(max(0.0, now - float(score) / 1000), 3)))
    return sorted(found, key=lambda pair: pair[0].worker_id)


def _parse(worker_id: str, raw: bytes | None) -> Heartbeat:
    """A stored description, field by field: a field of the wrong type reads as absent."""
    data: dict[str, Any] = {}
    if raw:
        with contextlib.suppress(ValueError):
            loaded = json.loads(raw)
            data = loaded if isinstance(loaded, dict) else {}
    fields: dict[str, Any] = {"worker_id": worker_id}
    for name in Heartbeat.model_fields:
        if name == "worker_id" or data.get(name) is None:
            continue
        with contextlib.suppress(ValidationError):
            Heartbeat.model_validate({"worker_id": worker_id, name: data[name]})
            fields[name] = data[name]
    return Heartbeat.model_validate(fields)
