"""One queue over three shards: on one Redis server, and on a real 3-master Redis Cluster."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from storage_jobs.devstack.redis_cluster import RedisCluster as ClusterServers
from storage_jobs.jobs import DeleteJob
from storage_jobs.queue import (
    FINISH_CALL_JOBS,
    Finish,
    NewJob,
    Queue,
    QueueKeys,
    ShardCountError,
    ShardLayout,
    open_queue,
    shard_nodes,
    slot_ranges,
)
from storage_jobs.settings import Settings
from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration

SHARDS = 3
FAR = 2**50  # a claim time at which every job is due


def _job() -> DeleteJob:
    return DeleteJob(bucket="bkt", keys=["k"])


@pytest.fixture(params=["one-server", "cluster", "valkey"])
def settings(request: pytest.FixtureRequest, redis_server: TestRedis, queue: str) -> Settings:
    """Settings of a queue of three shards: on one server (db 13), or a cluster of each kind."""
    if request.param in ("cluster", "valkey"):
        name = "redis_cluster" if request.param == "cluster" else "valkey_cluster"
        cluster: ClusterServers = request.getfixturevalue(name)
        url = cluster.url
    else:
        url = redis_server.url(13)
    return Settings(redis_url=url, queue_name=queue, queue_shards=SHARDS)


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[Queue]:
    queue = await open_queue(settings)
    yield queue
    await queue.redis.aclose()


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Queue]:
    queue = await open_queue(settings, worker_id="w1")
    yield queue
    await queue.redis.aclose()


def test_an_id_lands_on_one_shard_under_either_spelling() -> None:
    layout = ShardLayout("q", SHARDS)
    tagged = layout.job_id("abc")
    assert tagged.startswith("{") and tagged.endswith("}abc")
    assert layout.job_id(tagged) == tagged  # idempotent
    assert layout.index("abc") == layout.index(tagged)
    spread = Counter(layout.index(f"job-{i}") for i in range(3000))
    assert sorted(spread) == [0, 1, 2] and min(spread.values()) > 900
    untagged = ShardLayout("q")
    assert (untagged.names, untagged.job_id("abc")) == (("q",), "abc")  # the layout of old


async def test_three_shards_sit_on_three_masters(redis_cluster: ClusterServers) -> None:
    queue = await open_queue(Settings(redis_url=redis_cluster.url, queue_shards=SHARDS))
    try:
        assert isinstance(queue.redis, RedisCluster)
        ranges = slot_ranges(await queue.redis.cluster_slots())
        nodes = shard_nodes(queue.layout.tags, ranges)
        assert len({n.address for n in nodes if n is not None}) == SHARDS
    finally:
        await queue.redis.aclose()


async def test_jobs_spread_over_every_shard_and_an_id_runs_once(producer: Queue) -> None:
    answers = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(900)])
    assert all(ok for _, ok in answers)
    per_shard = Counter(producer.layout.index(job_id) for job_id, _ in answers)
    assert sorted(per_shard) == [0, 1, 2] and min(per_shard.values()) > 200
    depths = [await s.depth() for s in producer.shards]
    assert [d.depth for d in depths] == [per_shard[i] for i in range(SHARDS)]
    again = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(5)])
    assert again == [(job_id, False) for job_id, _ in answers[:5]]  # the same ids, not twice
    assert (await producer.depth()).depth == 900
    assert await producer.status("j7") == await producer.status(answers[7][0]) == "queued"


async def test_claims_take_the_shards_in_turn(producer: Queue, worker: Queue) -> None:
    await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(300)])
    firsts = []
    for _ in range(6):
        claim = await worker.claim(5, FAR)
        assert len(claim.run) == 5
        firsts.append(worker.layout.index(claim.run[0].job_id))
    assert sorted(firsts[:3]) == [0, 1, 2] and firsts[3:] == firsts[:3]  # none starves


async def test_a_claim_fills_its_slots_from_the_next_shards(producer: Queue, worker: Queue) -> None:
    answers = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(30)])
    claim = await worker.claim(30, FAR)
    assert sorted(c.job_id for c in claim.run) == sorted(job_id for job_id, _ in answers)
    empty = await worker.claim(30, FAR)
    assert not empty.run and not empty.paused and empty.next_due_ms is not None


async def test_pause_holds_every_shard_and_cancel_reaches_the_jobs_shard(
    producer: Queue, worker: Queue
) -> None:
    answers = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(30)])
    assert await producer.pause()
    assert (await worker.claim(30, FAR)).paused
    assert await producer.cancel(["j4", "no-such-job"]) == [True, False]
    assert await producer.resume() and not await producer.paused()
    claim = await worker.claim(30, FAR)
    assert sorted(c.job_id for c in claim.run) == sorted(
        j for j, _ in answers if j != answers[4][0]
    )
    assert await producer.status("j4") == "cancelled"


async def test_another_shard_count_is_refused_before_anything_is_written(
    settings: Settings, producer: Queue
) -> None:
    other = settings.model_copy(update={"queue_shards": 2})
    with pytest.raises(ShardCountError, match="spread over 3 shard"):
        await open_queue(other)
    assert (await producer.depth()).depth == 0


async def test_an_idle_worker_wakes_on_a_push_to_any_shard(producer: Queue, worker: Queue) -> None:
    for shard in producer.shards:
        waiting = asyncio.ensure_future(worker.wait_for_wake(20))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        started = time.monotonic()
        await shard.push_wake()
        assert await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 10  # woke by the token, not by the timeout


async def test_no_command_has_more_than_3999_arguments(
    producer: Queue, worker: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enqueue, a claim with every declared candidate's markers, and a finish of 256 jobs."""
    longest: list[int] = []

    def watch(cls: Any, name: str) -> None:
        real = getattr(cls, name)

        async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            stack = getattr(self, "command_stack", None) or getattr(self, "_command_stack", [])
            for entry in stack:
                longest.append(len(entry[0] if isinstance(entry, tuple) else entry.args))
            if name == "execute_command":
                longest.append(len(args))
            return await real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, counting)

    for pipeline in (Pipeline, ClusterPipeline):
        watch(pipeline, "execute")
    for client in (Redis, RedisCluster):
        watch(client, "execute_command")
    await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(3000)])
    await producer.cancel(["no-such-job"])  # sets the control flag: claims declare markers
    # A wide scan leaves hundreds of due ids per shard for the next claims to declare.
    claims = [await worker.claim(256, FAR, scan=1000) for _ in range(4)]
    assert sum(len(c.run) for c in claims) == 1024
    took = [c for claim in claims for c in claim.run]
    removed = await worker.finish([Finish(c.job_id, True, lane=c.lane) for c in took])
    assert longest and max(longest) <= 3999
    assert removed == len(took) == 1024 > FINISH_CALL_JOBS


async def test_the_shard_count_changes_by_the_documented_procedure(
    settings: Settings, producer: Queue, worker: Queue
) -> None:
    """docs/cluster.md: drain, delete the record, start with the new count."""
    answers = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(20)])
    claim = await worker.claim(20, FAR)
    assert await worker.finish([Finish(c.job_id, True, lane=c.lane) for c in claim.run]) == 20
    assert (await producer.depth()).total == 0  # drained
    two = settings.model_copy(update={"queue_shards": 2})
    with pytest.raises(ShardCountError):
        await open_queue(two)
    await producer.redis.delete(QueueKeys(settings.queue_name).meta)
    reopened = await open_queue(two)
    try:
        assert len(reopened.shards) == 2
        (job_id, ok), *_ = await reopened.enqueue_many([NewJob(_job(), job_id="after")])
        assert ok and await reopened.status("after") == "queued"
        assert job_id not in {j for j, _ in answers}
    finally:
        await reopened.redis.aclose()


async def test_dead_letters_of_every_shard_list_replay_and_drop(
    producer: Queue, worker: Queue
) -> None:
    answers = await producer.enqueue_many([NewJob(_job(), job_id=f"j{i}") for i in range(12)])
    claim = await worker.claim(12, FAR)
    for claimed in claim.run:
        await worker.dead_letters.add(
            job_id=claimed.job_id,
            function="storage_jobs.delete",
            raw_payload=claimed.payload,
            error_type="JobFailed",
            message="no",
        )
    await worker.finish([Finish(c.job_id, True, lane=c.lane) for c in claim.run])
    assert {worker.layout.index(j) for j, _ in answers} == {0, 1, 2}
    assert await producer.dead_letters.count() == 12
    listed = await producer.dead_letters.list(limit=100)
    assert sorted(d.job_id for d in listed) == sorted(j for j, _ in answers)
    assert [d.failed_at for d in listed] == sorted(d.failed_at for d in listed)  # oldest first
    page = await producer.dead_letters.list(offset=4, limit=4)
    assert [d.job_id for d in page] == [d.job_id for d in listed[4:8]]
    limits = Settings().job_limits()
    assert await producer.dead_letters.replay("j3", limits=limits, result_ttl=60)
    assert await producer.status("j3") == "queued"
    assert await producer.dead_letters.drop("j5")
    assert await producer.dead_letters.count() == 10
