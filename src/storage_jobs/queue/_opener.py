"""Opening a queue from settings: one server, Sentinel or a cluster, and its shard count checked.

The shard count decides which shard holds each job id, so every producer and worker of a queue
must use the same one. The first to open the queue records it (``QueueKeys.meta``); any later
one configured with another count is refused before it writes anything, so no job is placed
where no worker looks. Changing the count is a procedure (``docs/cluster.md``): drain, then
delete the record, then start everyone with the new count.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import StorageJobsError
from ..settings import Settings
from ..tracing import tracer_for
from ._connection import open_redis
from ._keys import QueueKeys
from ._queue import Queue
from ._scripts import ReplicaWait

__all__ = ["ShardCountError", "check_shard_count", "open_queue", "queue_on", "replica_wait"]


class ShardCountError(StorageJobsError, ValueError):
    """The queue was set up with another shard count than this process is configured with."""


async def open_queue(
    settings: Settings,
    *,
    worker_id: str | None = None,
    check: bool = True,
    **options: Any,
) -> Queue:
    """The settings' queue on a new connection (detecting a cluster), its shard count checked.

    Args:
        settings: The Redis URL, queue name, shard count, result TTL and lease length.
        worker_id: A worker's id: the queue then claims for it.
        check: Check (and on first use record) the shard count.
        **options: Connection options (timeouts), as for ``connect_redis``.

    Raises:
        ShardCountError: If the queue records another shard count.
    """
    redis, cluster = await open_redis(settings, **options)
    queue = Queue(
        redis,
        settings.queue_name,
        shards=settings.queue_shards,
        tagged=cluster,
        result_ttl=settings.result_ttl,
        worker_id=worker_id,
        lease_seconds=settings.lease_seconds,
        tracer=tracer_for(settings.tracing),
        wait=replica_wait(settings),
        events_maxlen=settings.events_maxlen,
    )
    if check:
        try:
            await check_shard_count(redis, settings.queue_name, settings.queue_shards)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            pass  # unreachable: the first command fails and says so, as without the check
        except BaseException:
            await redis.aclose()
            raise
    return queue


async def check_shard_count(redis: Redis, queue_name: str, shards: int) -> None:
    """Records the queue's shard count if none is, else checks ``shards`` against it.

    A user whose ACL may not write the record (a producer) only reads it.

    Raises:
        ShardCountError: If the recorded count differs.
    """
    key = QueueKeys(queue_name).meta
    recorded = await cast(Awaitable[bytes | str | None], redis.hget(key, "shards"))
    if recorded is None:
        try:
            await cast(Awaitable[int], redis.hsetnx(key, "shards", str(shards)))
        except NoPermissionError:
            return
        recorded = await cast(Awaitable[bytes | str | None], redis.hget(key, "shards"))
    count = int(recorded) if recorded is not None else shards
    if count != shards:
        raise ShardCountError(
            f"queue {queue_name!r} is spread over {count} shard(s), but this process is "
            f"configured with STORAGE_JOBS_QUEUE_SHARDS={shards}: use {count}, or change the "
            "queue's count by the procedure in docs/cluster.md (jobs would otherwise wait on "
            "shards no worker reads)"
        )


def queue_on(redis: Redis | RedisCluster, settings: Settings, **options: Any) -> Queue:
    """The settings' queue on a connection the caller opened (a cluster's client: tagged).

    Args:
        redis: The connection.
        settings: The queue name, shard count and result TTL.
        **options: More ``Queue`` options (``worker_id``, ``lease_seconds``).
    """
    return Queue(
        redis,
        settings.queue_name,
        shards=settings.queue_shards,
        tagged=isinstance(redis, RedisCluster),
        result_ttl=settings.result_ttl,
        tracer=tracer_for(settings.tracing),
        wait=replica_wait(settings),
        events_maxlen=settings.events_maxlen,
        **options,
    )


def replica_wait(settings: Settings) -> ReplicaWait | None:
    """The replica wait ``STORAGE_JOBS_REDIS_WAIT_REPLICAS`` asks for; None for none."""
    if settings.redis_wait_replicas == 0:
        return None
    return ReplicaWait(settings.redis_wait_replicas, int(settings.redis_wait_timeout * 1000))
