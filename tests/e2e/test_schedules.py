"""A schedule every second, two worker processes, one killed: each tick copies once at S3.

The scheduled job is a ``CopyJob`` whose CopyObject requests the fault proxy counts (outside the
queue). The workers' logs name each tick they enqueued; each tick is enqueued by one worker
only, the copies at S3 match the ticks one for one, a SIGKILL of a worker stops neither the
schedule nor keeps it to one run a tick, and ``unschedule`` stops it. Counts, never timings:
the test only waits for counts to be reached.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.jobs import CopyJob
from tests.fixtures_e2e import fill, wait_until
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


def enqueued_ticks(workers: list[WorkerProcess]) -> tuple[Counter[int], set[str]]:
    """How many times each tick was enqueued, and their job ids, over every worker's log."""
    events = [
        e
        for w in workers
        for e in w.events()
        if e.get("event") in ("schedule.run", "schedule.recovered") and e.get("enqueued")
    ]
    return Counter(int(e["tick_ms"]) for e in events), {str(e["job_id"]) for e in events}


@pytest.mark.parametrize("layout", ["one", "sharded", "cluster"], indirect=True)
async def test_each_tick_copies_once_through_a_kill_and_stops_on_unschedule(
    start_worker: StartWorker,
    jobs: StorageJobsClient,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    bucket: str,
) -> None:
    await fill(seaweedfs, bucket, ["src"])
    copies_of = f"/{bucket}/dst"

    def copies() -> int:
        return fault_proxy.copies[copies_of]

    env = {"STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url}
    workers = [start_worker(**env), start_worker(**env)]
    job = CopyJob(src_bucket=bucket, src_key="src", dst_key="dst")
    record = await jobs.schedule("every-second", job, every=1)
    assert record.kind == "copy" and record.spec == "every 1s" and record.runs == 0

    async def copies_reach(n: int) -> None:
        await wait_until(lambda: asyncio.sleep(0.02, copies() >= n), timeout=60)

    await copies_reach(3)
    # Between ticks (the last copy seen, its job finished): a worker dies without a word.
    await asyncio.sleep(0.3)
    workers[0].kill()
    killed_at = copies()
    await copies_reach(killed_at + 3)  # the other worker carries the schedule on

    assert await jobs.unschedule("every-second")
    removed_ms = time.time() * 1000
    assert await jobs.schedules() == []
    await asyncio.sleep(3.0)  # three ticks' worth of time: none may be enqueued

    ticks, job_ids = enqueued_ticks(workers)
    assert ticks and max(ticks.values()) == 1, ticks  # no tick enqueued twice, by any worker
    assert len(job_ids) == len(ticks)
    for job_id in job_ids:
        await jobs.handle(job_id).result(timeout=30)  # every tick's job ran and completed
    assert copies() == len(ticks)  # one copy at S3 per tick, none lost, none twice
    assert max(ticks) <= removed_ms  # no tick after the schedule was removed
    assert not workers[0].running() and workers[1].running()
