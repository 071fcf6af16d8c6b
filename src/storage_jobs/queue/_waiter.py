"""Waiting for results without polling each key: one subscription per client, any number of waits.

Workers publish the ids of every batch of finished jobs on the queue's ``done`` channel. A
client subscribes once, on its first wait; each waiting handle registers its id, reads the
result once, and sleeps until its id is announced. Pub/sub delivers at most once and drops
messages while disconnected, so a wait also wakes every ``fallback`` seconds to read again: a
lost message costs latency, never a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, cast

from redis.asyncio import ConnectionPool, Redis, RedisCluster
from redis.exceptions import RedisError

from ._keys import QueueKeys

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

__all__ = ["ResultWaiter"]


class ResultWaiter:
    """Wakes waits for results of one queue (one per client)."""

    def __init__(self, redis: Redis, queue_name: str, *, fallback: float = 1.0) -> None:
        """Binds the waiter; nothing subscribes before the first wait.

        Args:
            redis: The client's connection (the subscription gets a connection of its own).
            queue_name: The queue.
            fallback: Seconds a wait sleeps at most before it reads the result again.
        """
        self.redis = redis
        self.channel = QueueKeys(queue_name).done_channel
        self.fallback = fallback
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        # Concurrent first waits must not each open a subscription connection.
        self._subscribing = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set when ``job_id`` is announced; register before reading the result."""
        await self._subscribe()
        event = asyncio.Event()
        self._events[job_id].add(event)
        try:
            yield event
        finally:
            waiting = self._events.get(job_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[job_id]

    async def close(self) -> None:
        """Stops listening."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await reader
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _subscribe(self) -> None:
        async with self._subscribing:
            if self._reader is not None and not self._reader.done():
                return
            try:
                if self._pubsub is None:
                    self._pubsub = _subscriber(self.redis).pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(self.channel)
            except (RedisError, OSError):
                return  # waits fall back to reading every ``fallback`` seconds
            self._reader = asyncio.create_task(self._read(self._pubsub))

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            try:
                message = await pubsub.get_message(timeout=self.fallback)
            except (RedisError, OSError):
                return  # the next wait subscribes again
            if message is None or message.get("type") != "message":
                continue
            try:
                ids = json.loads(message["data"])
            except (ValueError, TypeError):
                continue
            for job_id in ids if isinstance(ids, list) else ():
                for event in self._events.get(str(job_id), ()):
                    event.set()


def _subscriber(redis: Redis | RedisCluster) -> Redis:
    """A client that can subscribe: ``redis`` itself, or one node of a cluster.

    redis-py's cluster client has no pub/sub; a cluster carries a ``PUBLISH`` to every node, so
    a plain connection to any one of them hears every shard's announcements.
    """
    if not isinstance(redis, RedisCluster):
        return cast(Redis, redis)
    node = redis.get_default_node()
    # The node's connection options hold its host and port, and the cluster's auth and TLS.
    pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
    return Redis(connection_pool=pool)
