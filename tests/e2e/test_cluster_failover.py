"""A cluster master killed mid-run: its replica is promoted and no job is lost (slow).

Three masters with a replica each; a queue of three shards, one on each master; two in-process
workers upload small objects to SeaweedFS. Once a part of the jobs have finished, the master
holding the first shard is SIGKILLed. Its replica takes over (``cluster-node-timeout`` 2 s),
the workers and the producer ride through the election, and every job ends complete: a finish
the dead master acknowledged but never replicated is re-run from its lapsed lease, which an
upload of the same bytes makes harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.exceptions import RedisError

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.devstack.redis_cluster import RedisCluster, find_cluster_server
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import shard_nodes, slot_ranges
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import keys_left, settings_of, wait_until
from tests.workers import running_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

JOBS = 600


@pytest.fixture
def replicated_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    with RedisCluster(replicas=1, server=find_cluster_server(), parent=tmp_path) as cluster:
        yield cluster


async def test_a_master_killed_mid_run_loses_no_job(
    replicated_cluster: RedisCluster,
    seaweedfs: SeaweedFS,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
) -> None:
    url = replicated_cluster.url
    env = {
        **worker_env,
        "STORAGE_JOBS_REDIS_URL": url,
        "STORAGE_JOBS_QUEUE_SHARDS": "3",
        "STORAGE_JOBS_LEASE_SECONDS": "5",
    }
    settings = Settings(redis_url=url, queue_name=queue_name, queue_shards=3)
    async with (
        StorageJobsClient(settings=settings) as jobs,
        running_worker(settings_of(env)),
        running_worker(settings_of(env)),
    ):
        ranges = slot_ranges(await jobs.redis.cluster_slots())  # type: ignore[attr-defined]
        first = shard_nodes(jobs.queue.layout.tags, ranges)[0]
        assert first is not None
        handles = await jobs.enqueue_many(
            [UploadJob(bucket=bucket, key=f"f/{i:04d}", data=b"x" * 64) for i in range(JOBS)]
        )

        async def some_done() -> bool:
            return len(await keys_left(admin_storage, bucket, "f/")) >= JOBS // 5

        await wait_until(some_done)
        replicated_cluster.stop_node(first.port)  # a crash: SIGKILL

        async def all_complete() -> bool:
            try:
                statuses = await asyncio.gather(*(h.status() for h in handles))
            except RedisError:  # the election: a producer's call may fail; it retries
                return False
            return all(s == JobStatus.COMPLETE for s in statuses)

        # Every job, not a sample: a job re-run from its lapsed lease finishes last.
        await wait_until(all_complete, timeout=240)
        new_ranges = slot_ranges(await jobs.redis.cluster_slots())  # type: ignore[attr-defined]
        promoted = shard_nodes(jobs.queue.layout.tags, new_ranges)[0]
        assert promoted is not None and promoted.port != first.port  # its replica took over
    assert len(await keys_left(admin_storage, bucket, "f/")) == JOBS
