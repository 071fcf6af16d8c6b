"""A client, its handles and its control share one ``Queue``: each script is registered once."""

from __future__ import annotations

from typing import Any

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import DeleteJob
from storage_jobs.queue._scripts import script_text

pytestmark = pytest.mark.integration


async def test_enqueues_and_cancels_register_each_script_once(
    client: StorageJobsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    registered: list[str] = []
    real = client.redis.register_script

    def counting(script: Any) -> Any:
        registered.append(script)
        return real(script)

    monkeypatch.setattr(client.redis, "register_script", counting)
    for n in range(2):
        handle = await client.enqueue(DeleteJob(bucket="bkt", keys=[f"k{n}"]))
        assert handle.queue is client.queue
        assert await handle.cancel()
        assert not await client.cancel(handle.job_id)  # cancelled already
        assert await client.control.cancel([handle.job_id]) == [False]
    assert registered.count(script_text("enqueue")) == 1
    assert registered.count(script_text("cancel")) == 1
    assert len(registered) == 2
