"""Waiting for results: woken by the worker's announcement, not by polling each key."""

from __future__ import annotations

import asyncio

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import DeleteJob, DeleteResult
from storage_jobs.queue import encode
from storage_jobs.worker._finisher import Finish, Finisher

pytestmark = pytest.mark.integration


def _result(job_id: str) -> bytes:
    value = DeleteResult(bucket="bkt", deleted_count=1, failed=[], attempts=1)
    return encode({"t": 1, "f": "storage_jobs.delete", "s": True, "r": value, "id": job_id})


async def test_a_waiting_handle_wakes_on_the_announcement(
    client: StorageJobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the fallback read at 30 s, the result still arrives at once: pub/sub woke the wait.

    Reads of the result key are counted: one before the wait and one after the wake-up, where
    the old 50 ms-and-growing poll read it about ten times a second.
    """
    reads = 0
    real = client.queue.result

    async def counting(job_id: str) -> object:
        nonlocal reads
        reads += 1
        return await real(job_id)

    monkeypatch.setattr(client.queue, "result", counting)
    assert client._waiter is not None
    client._waiter.fallback = 30.0
    handle = await client.enqueue(DeleteJob(bucket="bkt", keys=["k"]))
    waiting = asyncio.create_task(handle.result(timeout=10))
    await asyncio.sleep(1.0)
    assert not waiting.done()
    finisher = Finisher(lambda: client.queue, window=0)
    await finisher.finish(Finish(handle.job_id, True, result_data=_result(handle.job_id)))
    result = await asyncio.wait_for(waiting, 5)
    assert result == DeleteResult(bucket="bkt", deleted_count=1, failed=[], attempts=1)
    assert reads == 2


async def test_many_handles_share_one_subscription(client: StorageJobsClient) -> None:
    """Twenty waits, one subscriber on the channel; every wait gets its own result."""
    handles = await client.enqueue_many(
        [DeleteJob(bucket="bkt", keys=[f"k{i}"]) for i in range(20)]
    )
    waits = [asyncio.create_task(h.result(timeout=10)) for h in handles]
    await asyncio.sleep(0.5)
    channel = f"storage-jobs:{client.queue_name}:done"
    numsub = dict(await client.redis.pubsub_numsub(channel))
    assert numsub[channel.encode()] == 1
    finisher = Finisher(lambda: client.queue)
    await asyncio.gather(
        *(finisher.finish(Finish(h.job_id, True, result_data=_result(h.job_id))) for h in handles)
    )
    results = await asyncio.wait_for(asyncio.gather(*waits), 5)
    assert len(results) == 20
