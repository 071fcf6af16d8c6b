"""Cluster mode, detected from the server: the same ``redis_url`` reaches one server or a cluster.

Users name one node of their cluster (``redis://`` or ``rediss://``, with an ACL user and
password), as managed services hand out one configuration endpoint. Asking the server rather
than a setting means a cluster is never driven by a plain client (which fails with ``MOVED`` or
``CROSSSLOT`` on the first script), and a plain server never by a cluster client (which fails
on ``CLUSTER SLOTS``).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import ConnectionPool, Redis, RedisCluster
from redis.asyncio.connection import parse_url
from redis.exceptions import NoPermissionError, ResponseError

__all__ = ["AnyRedis", "ClusterDatabaseError", "connect_detected", "is_cluster"]

AnyRedis = Redis | RedisCluster
"""A client of one server (or a Sentinel's master) or of a cluster."""


class ClusterDatabaseError(ValueError):
    """A cluster's URL names a database other than 0: a cluster has only database 0."""


async def is_cluster(url: str, **options: Any) -> bool:
    """Whether the server at ``url`` runs in cluster mode (``INFO cluster``: cluster_enabled:1).

    Asked over database 0, whatever the URL names: a cluster node refuses ``SELECT``.
    ``CLUSTER INFO`` answers when ``INFO`` is refused (an ACL user without ``+info``).

    Args:
        url: A ``redis://`` or ``rediss://`` URL of any node, with user and password if any.
        **options: More connection options (timeouts, TLS files), as for ``Redis.from_url``.
    """
    kwargs = {**options, **parse_url(url)}
    kwargs.pop("db", None)
    client = Redis(connection_pool=ConnectionPool(**kwargs))
    try:
        try:
            info = await client.info("cluster")
        except NoPermissionError:
            return await _cluster_info_answers(client)
        return str(info.get("cluster_enabled", "0")) == "1"
    finally:
        await client.aclose(close_connection_pool=True)


async def _cluster_info_answers(client: Redis) -> bool:
    try:
        await client.cluster("INFO")
    except ResponseError as exc:
        if "cluster support disabled" in str(exc):  # a server without cluster mode says so
            return False
        raise
    return True


async def connect_detected(url: str, *, cluster: bool | None = None, **options: Any) -> AnyRedis:
    """A cluster client (following ``MOVED``/``ASK``) for a cluster, else a plain client.

    Args:
        url: A ``redis://`` or ``rediss://`` URL of any node, with user and password if any.
        cluster: Whether it is a cluster, when already known (None: ask it).
        **options: More connection options, as for ``from_url``.

    Raises:
        ClusterDatabaseError: If the server is a cluster node and the URL names a database
            other than 0.
    """
    if cluster is None:
        cluster = await is_cluster(url, **options)
    if not cluster:
        plain: Redis = Redis.from_url(url, **options)
        return plain
    if parse_url(url).get("db", 0):
        raise ClusterDatabaseError(
            "the Redis URL names a database, but the server is a Redis Cluster node and a "
            "cluster has only database 0: drop the /N from the URL"
        )
    client: RedisCluster = RedisCluster.from_url(url, **options)
    return client


def atomic(redis: AnyRedis) -> Any:
    """A ``MULTI``/``EXEC`` pipeline on one server; a plain pipeline on a cluster.

    redis-py's cluster pipeline has no transactions, even over one slot. The callers' writes are
    each safe to apply in order without one: on a cluster a crash between them can leave the
    first done and the rest not, which their readers already tolerate (``docs/cluster.md``).
    """
    if isinstance(redis, RedisCluster):
        return redis.pipeline()
    return redis.pipeline(transaction=True)
