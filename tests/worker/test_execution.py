"""Running a claimed job: its slot frees when its handler ends, before its finish is written.

Jobs are uploads against moto (no SeaweedFS); Redis is the session's; the worker is in-process
(the ``settings`` and ``jobs`` fixtures are the package's, in ``conftest.py``).
"""

from __future__ import annotations

import asyncio

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import Finish
from storage_jobs.settings import Settings
from tests.workers import running_worker

pytestmark = pytest.mark.integration


async def test_a_slot_frees_while_its_jobs_finish_is_written(
    settings: Settings, jobs: StorageJobsClient, moto_bucket: str
) -> None:
    """One slot, finishes held back: the second upload still runs, then both finish."""
    async with running_worker(settings.model_copy(update={"max_jobs": 1})) as running:
        finisher = running.worker.finisher
        write = finisher.finish
        gate = asyncio.Event()
        held: list[str] = []

        async def held_back(item: Finish) -> None:
            held.append(item.job_id)
            await gate.wait()
            await write(item)

        finisher.finish = held_back
        handles = [
            await jobs.enqueue(UploadJob(bucket=moto_bucket, key=f"slot/{i}", data=b"x"))
            for i in range(2)
        ]
        # With the slot held until the first finish is durable, the second never starts.
        async with asyncio.timeout(20):
            while len(held) < 2:
                await asyncio.sleep(0.02)
        assert held == [h.job_id for h in handles]
        gate.set()
        for handle in handles:
            assert (await handle.result(timeout=20)).key.startswith("slot/")
        assert len(running.events("job.done")) == 2
