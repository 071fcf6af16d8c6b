"""Leases, the worker loop's view of ``Queue.claim`` and ``Queue.renew``, keeps its interface.

The protocol itself is tested on ``Queue`` in ``tests/queue/test_claim.py``.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import UploadJob
from storage_jobs.queue import NewJob, Queue, QueueKeys
from storage_jobs.worker._leases import Leases

pytestmark = pytest.mark.integration

FAR = 2**50


async def test_claim_renew_and_forget_through_the_loops_interface(redis: Redis, queue: str) -> None:
    ids = [f"{queue}-{n}" for n in ("h", "b")]
    producer = Queue(redis, queue, result_ttl=60)
    await producer.enqueue_many(
        [NewJob(UploadJob(bucket="bkt", key="h", data=b"x"), ids[0], None, "high")]
    )
    await producer.enqueue_many(
        [NewJob(UploadJob(bucket="bkt", key="b", data=b"x"), ids[1], None, "bulk")]
    )
    leases = Leases(queue, "w1", 10)
    claim = await leases.claim(redis, 4, FAR, scan=8, bulk=1)
    assert [(c.job_id, c.lane) for c in claim.run] == [(ids[0], "high"), (ids[1], "bulk")]
    assert leases.lane_of(ids[1]) == "bulk"
    assert leases.lane_key(ids[1]) == QueueKeys(queue).lane("bulk")
    await redis.set(QueueKeys.in_progress(ids[1]), "thief")
    # Another connection object (the worker's pool replaced): the same holder's state.
    other = Redis(connection_pool=redis.connection_pool)
    assert await leases.renew(other, ids, FAR) == [ids[1]]
    assert leases.lost == {ids[1]}
    assert leases.forget(ids[1]) is True and leases.forget(ids[0]) is False
    assert leases.lane_of(ids[0]) == "normal"  # forgotten: no lane kept
