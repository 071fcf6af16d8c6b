"""Cluster mode is detected from the server, and the cluster client it builds follows MOVED."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.asyncio import Redis, RedisCluster

from storage_jobs.devstack.redis_cluster import RedisCluster as DevCluster
from storage_jobs.queue._cluster import ClusterDatabaseError, connect_detected, is_cluster
from storage_jobs.queue._shards import shard_nodes, slot_of_tag, slot_ranges
from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration

PASSWORD = "cluster-test-pw"


@pytest.fixture
def acl_user(redis_cluster: DevCluster, redis_server: TestRedis) -> Iterator[str]:
    """An ACL user on every node (ACLs are per node) and on the plain server; INFO is allowed.

    A second user, ``<name>-noinfo``, may run everything but INFO (as some managed ACLs).
    """
    name = f"u{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis(port=port) for port in redis_cluster.ports]
    clients.append(redis.Redis.from_url(redis_server.base_url))
    for client in clients:
        client.acl_setuser(name, enabled=True, passwords=[f"+{PASSWORD}"], keys="*", channels="*",
                           commands=["+@all"])  # fmt: skip
        client.acl_setuser(f"{name}-noinfo", enabled=True, passwords=[f"+{PASSWORD}"], keys="*",
                           channels="*", commands=["+@all", "-info"])  # fmt: skip
    yield name
    for client in clients:
        client.acl_deluser(name, f"{name}-noinfo")
        client.close()


def node_url(user: str, port: int, host: str = "127.0.0.1") -> str:
    return f"redis://{user}:{PASSWORD}@{host}:{port}"


async def test_a_cluster_node_and_a_plain_server_are_told_apart(
    redis_cluster: DevCluster, redis_server: TestRedis, acl_user: str
) -> None:
    """With an ACL user, with INFO refused to the user, and with a database in a plain URL."""
    plain = redis_server.base_url.replace("redis://", f"redis://{acl_user}:{PASSWORD}@")
    for user in (acl_user, f"{acl_user}-noinfo"):
        assert await is_cluster(node_url(user, redis_cluster.ports[1])) is True
        assert await is_cluster(plain.replace(acl_user, user) + "/11") is False


async def test_a_wrong_password_is_an_error_not_a_plain_server(redis_cluster: DevCluster) -> None:
    with pytest.raises(redis.exceptions.AuthenticationError):
        await is_cluster(f"redis://nobody:wrong@127.0.0.1:{redis_cluster.ports[0]}")


async def test_the_cluster_client_reaches_every_master_from_one_node_and_follows_moved(
    redis_cluster: DevCluster, acl_user: str
) -> None:
    """Keys on all 3 masters work through a URL naming one; a stale slot table meets MOVED."""
    first = redis_cluster.ports[0]
    client = await connect_detected(node_url(acl_user, first))
    assert isinstance(client, RedisCluster)
    try:
        plain = redis.Redis(port=first)
        ranges = slot_ranges(plain.cluster("SLOTS"))  # type: ignore[arg-type]
        # The cluster client's own answer (parsed by redis-py) reads the same.
        assert slot_ranges(await client.cluster_slots()) == ranges
        assert len(ranges) == 3
        # One key per master; those on the other two masters answer MOVED to a plain client.
        keys: dict[int, str] = {}
        for n in range(200):
            tag = f"moved-{uuid.uuid4().hex[:6]}-{n}"
            node = shard_nodes([tag], ranges)[0]
            assert node is not None
            keys.setdefault(node.port, f"{{{tag}}}:k")
            if len(keys) == 3:
                break
        elsewhere = [key for port, key in keys.items() if port != first]
        assert len(elsewhere) == 2
        with pytest.raises(redis.exceptions.ResponseError, match="MOVED"):
            plain.set(elsewhere[0], "x")
        plain.close()

        for key in keys.values():
            await client.set(key, key, ex=60)
        assert [await client.get(key) for key in keys.values()] == [
            k.encode() for k in keys.values()
        ]

        # Make the client believe the first node serves the key's slot: it is told MOVED,
        # retries on the right master, and learns the slot's owner.
        slot = slot_of_tag(elsewhere[1][1 : elsewhere[1].index("}")])
        wrong = client.get_node(host="127.0.0.1", port=first)
        assert wrong is not None
        client.nodes_manager.slots_cache[slot] = [wrong]
        assert await client.get(elsewhere[1]) == elsewhere[1].encode()
        assert client.nodes_manager.slots_cache[slot][0].port != first
        await client.delete(*keys.values())
    finally:
        await client.aclose()


async def test_a_plain_server_gets_a_plain_client_and_a_cluster_refuses_a_database(
    redis_cluster: DevCluster, redis_server: TestRedis
) -> None:
    plain = await connect_detected(redis_server.url(11))
    try:
        assert isinstance(plain, Redis)
        assert await plain.ping()
    finally:
        await plain.aclose()
    with pytest.raises(ClusterDatabaseError, match="database 0"):
        await connect_detected(f"{redis_cluster.url}/3")
