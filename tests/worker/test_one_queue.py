"""The worker reaches Redis through its one ``Queue``: each script is registered once."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import UploadJob
from storage_jobs.queue import NewJob, Queue
from storage_jobs.queue._scripts import script_text
from storage_jobs.settings import Settings
from storage_jobs.worker import build_worker

pytestmark = pytest.mark.integration

FAR = 2**50


async def test_claims_finishes_and_renewals_register_each_script_once(
    redis: Redis, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"{queue}-{n}" for n in range(2)]
    jobs = [NewJob(UploadJob(bucket="bkt", key=i, data=b"x"), i) for i in ids]
    await Queue(redis, queue, result_ttl=60).enqueue_many(jobs)
    registered: list[str] = []
    real = redis.register_script

    def counting(script: Any) -> Any:
        registered.append(script)
        return real(script)

    monkeypatch.setattr(redis, "register_script", counting)
    worker = build_worker(Settings(queue_name=queue, max_jobs=1))
    worker._pool = redis
    for job_id in ids:
        claim = await worker.queue.claim(1, FAR)
        assert [c.job_id for c in claim.run] == [job_id]
        assert await worker.queue.renew([job_id], FAR) == []
        await worker._finish_cancelled(job_id)  # the operator's path: its own script
    for name in ("claim", "renew", "finish_cancelled"):
        assert registered.count(script_text(name)) == 1, name
    assert len(registered) == 3
