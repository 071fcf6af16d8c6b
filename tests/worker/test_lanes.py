"""Reserved slots in the worker: bulk jobs take the free slots less the reserved ones.

The claim's side of lanes (order, shares, the bulk cap) is tested on ``Queue.claim`` in
``tests/queue/test_lanes.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

import pytest
from redis.asyncio import Redis

from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings
from storage_jobs.worker import build_worker

pytestmark = pytest.mark.integration


async def test_a_bulk_job_ending_while_bulk_jobs_wait_wakes_the_worker(
    redis: Redis, queue: str
) -> None:
    """Bulk takes the free slots less the reserved ones (one while none runs); an end wakes."""
    assert build_worker(Settings(queue_name=queue, reserved_slots=0))._bulk_allowed(3) is None
    worker = build_worker(Settings(queue_name=queue, max_jobs=4, reserved_slots=1))
    assert [worker._bulk_allowed(free) for free in (4, 2, 1)] == [3, 1, 1]
    worker._pool = redis
    wake = QueueKeys(queue).wake
    worker._bulk_running = 2
    assert [worker._bulk_allowed(free) for free in (2, 1)] == [1, 0]
    worker._job_ended(True)  # no bulk job waits: nothing to wake
    assert not worker._wakes and worker._bulk_running == 1
    worker._bulk_capped = True
    worker._job_ended(False)  # any job's end frees a slot the bulk jobs may get
    await asyncio.gather(*list(worker._wakes))
    assert await cast(Awaitable[list[bytes]], redis.lrange(wake, 0, -1)) == [b"1"]
    assert worker._bulk_running == 1 and not worker._bulk_capped
