"""Completion events of a queue of three shards on a Redis Cluster: one stream per shard's slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import RedisCluster

from storage_jobs.devstack.redis_cluster import RedisCluster as ClusterServers
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import Finish, NewJob, Queue, open_queue
from storage_jobs.settings import Settings
from tests.queue.test_events import read_all, result_record

pytestmark = pytest.mark.integration

FAR = 2**50  # a claim time at which every job is due


@pytest.fixture
async def worker(redis_cluster: ClusterServers, queue: str) -> AsyncIterator[Queue]:
    settings = Settings(redis_url=redis_cluster.url, queue_name=queue, queue_shards=3)
    opened = await open_queue(settings, worker_id="w1")
    assert isinstance(opened.redis, RedisCluster)
    yield opened
    await opened.redis.aclose()


def _finish(job_id: str, score: int) -> Finish:
    return Finish(job_id, True, result_record(job_id), 60_000, score=score)


async def test_each_shard_streams_in_its_own_slot_and_a_cursor_covers_all(worker: Queue) -> None:
    await worker.enqueue_many(
        [NewJob(UploadJob(bucket="bkt", key=f"k{i}", data=b"x")) for i in range(30)]
    )
    claimed = (await worker.claim(30, FAR)).run
    while len(claimed) < 30:
        claimed += (await worker.claim(30 - len(claimed), FAR)).run
    assert len({worker.layout.index(c.job_id) for c in claimed}) == 3
    # The finish script's XADD runs in the shard's slot: no CROSSSLOT refusal.
    await worker.finish([_finish(c.job_id, c.score) for c in claimed[:20]])
    for shard in worker.shards:
        assert shard.keys.events.startswith("storage-jobs:" + shard.name)
    events = await read_all(worker)
    assert sorted(e.job_id for e in events) == sorted(c.job_id for c in claimed[:20])
    rest = await read_all(worker, events[4].id)
    assert [e.job_id for e in rest] == [e.job_id for e in events[5:]]
    # A blocking read over the shards (one XREAD each) ends at the first event on any.
    reader = worker.events(events[-1].id)
    waiting = asyncio.ensure_future(reader.read(10, block_s=30))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await worker.finish([_finish(c.job_id, c.score) for c in claimed[20:21]])
    got = await asyncio.wait_for(waiting, 10)
    assert [e.job_id for e in got] == [claimed[20].job_id]
    # The webhooks' group, one per shard's stream.
    groups = worker.event_groups("w1")
    for group in groups:
        await group.create()
    await worker.finish([_finish(c.job_id, c.score) for c in claimed[21:]])
    read = [entry for group in groups for entry in await group.read(50, None)]
    assert sorted(e.job_id for _, e in read if e is not None) == sorted(
        c.job_id for c in claimed[21:]
    )
