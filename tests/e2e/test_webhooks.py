"""Webhooks end to end: in-process workers on real Redis and SeaweedFS, a receiver in the test."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import CopyJob, UploadJob
from storage_jobs.settings import Settings
from tests.fixtures_e2e import on_every_layout, wait_until
from tests.workers import InProcessWorker, StartInProcess

pytestmark = pytest.mark.integration

SECRET = "a-webhook-secret-for-tests"


@dataclass
class Receiver:
    """A webhook receiver: refuses (500) while ``refusing``, checks every signature.

    Once it accepts, its first answer is lost (recorded, but 500 sent): that event comes again
    under the same delivery id.
    """

    refusing: bool = True
    lose_answers: int = 1
    refused: int = 0
    bad_signatures: int = 0
    deliveries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Storage-Jobs-Signature", ""), expected):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.refusing:
            self.refused += 1
            return web.Response(status=500)
        self.deliveries.append((request.headers["X-Storage-Jobs-Delivery"], json.loads(body)))
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=500)
        return web.Response(status=204)

    def unique(self) -> dict[str, dict[str, Any]]:
        """The deliveries with repeats dropped, by delivery id (as a receiver is told to)."""
        return dict(self.deliveries)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    got.url = f"http://127.0.0.1:{port}/hook"
    yield got
    await runner.cleanup()


def _posts(worker: InProcessWorker, outcome: str) -> float:
    """The worker's ``storage_jobs_webhook_deliveries_total`` of one outcome."""
    metrics = worker.worker._metrics()
    assert metrics is not None
    sample = metrics.registry.get_sample_value(
        "storage_jobs_webhook_deliveries_total", {"outcome": outcome}
    )
    return sample or 0.0


def _hooks(receiver: Receiver) -> dict[str, str]:
    return {
        "STORAGE_JOBS_WEBHOOK_URL": receiver.url,
        "STORAGE_JOBS_WEBHOOK_SECRET": SECRET,
        "STORAGE_JOBS_WEBHOOK_MAX_BACKOFF": "0.5",
        "STORAGE_JOBS_WEBHOOK_CLAIM_IDLE": "1",
        "STORAGE_JOBS_LEASE_SECONDS": "10",
    }


@on_every_layout
async def test_a_receiver_down_then_back_gets_every_event_once_across_a_restart(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    receiver: Receiver,
    bucket: str,
) -> None:
    """A receiver refusing, then accepting: every event arrives signed, once by delivery id.

    It refuses while the first worker runs (stopped holding deliveries) and accepts once a
    second worker took them over.
    """
    metrics_on = {"STORAGE_JOBS_METRICS_PORT": "0"}  # each POST counted by outcome
    first = await start_in_process(**_hooks(receiver), **metrics_on)
    handles = [
        await jobs.enqueue(UploadJob(bucket=bucket, key=f"a{i}", data=b"a")) for i in range(10)
    ]
    failing = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="missing", dst_key="x"))
    for handle in handles:
        await handle.result(timeout=60)

    async def held() -> bool:  # the first worker took deliveries and is retrying them
        return receiver.refused >= 3

    await wait_until(held)
    for task in list(first.worker.tasks.values()):
        task.cancel()
    await first.worker.close()  # stopped with its deliveries unacknowledged
    assert receiver.deliveries == []
    second = await start_in_process(**_hooks(receiver), **metrics_on)
    more = [await jobs.enqueue(UploadJob(bucket=bucket, key=f"b{i}", data=b"b")) for i in range(5)]
    receiver.refusing = False
    everything = [*handles, *more]
    want = {h.job_id for h in everything} | {failing.job_id}

    async def all_delivered() -> bool:
        return {e["job_id"] for e in receiver.unique().values()} >= want

    await wait_until(all_delivered)
    unique = receiver.unique()
    assert receiver.bad_signatures == 0
    assert sorted(e["job_id"] for e in unique.values()) == sorted(want)  # each event once
    # The answer lost: delivered twice under one id, the same body; dropped by its id.
    assert len(receiver.deliveries) == len(unique) + 1
    (twice,) = [d for d in unique if [i for i, _ in receiver.deliveries].count(d) == 2]
    assert [b for i, b in receiver.deliveries if i == twice] == [unique[twice]] * 2
    by_job = {e["job_id"]: e for e in unique.values()}
    assert {by_job[h.job_id]["status"] for h in everything} == {"complete"}
    assert by_job[handles[0].job_id]["result"]["key"] == "a0"
    bad = by_job[failing.job_id]
    assert bad["status"] == "failed" and bad["error"]["code"] in ("NoSuchKey", "404")
    # What the first worker held when it stopped, the second took over and delivered.
    held_by_first = {e["delivery"] for e in first.events("webhook.retry")}
    assert held_by_first and held_by_first <= set(unique)
    # Counted: every refusal the first worker logged; the second delivered each event once
    # (the lost answer counts as refused, then delivered).
    assert _posts(first, "refused") == len(first.events("webhook.retry"))
    assert _posts(first, "delivered") == 0
    assert _posts(second, "delivered") == len(unique)
    assert _posts(second, "refused") == len(second.events("webhook.retry"))
    assert second.running()
    # Neither the secret nor the URL (it may hold a token) is ever logged.
    logged = repr(first.log)
    assert first.events("webhook.retry") and SECRET not in logged and receiver.url not in logged


async def test_webhook_settings_refuse_unsigned_or_odd_urls() -> None:
    """No URL without a secret; only http(s); and the secret never shows in an error."""
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        Settings(webhook_url="https://example.com/hook")
    with pytest.raises(ValueError, match="http"):
        Settings(webhook_url="ftp://example.com/hook", webhook_secret=SECRET)
    with pytest.raises(ValueError, match="http") as caught:
        Settings(webhook_url="file:///etc/passwd", webhook_secret=SECRET)
    assert SECRET not in str(caught.value)
    with pytest.raises(ValueError, match="events on"):
        Settings(webhook_url="https://x.example/h", webhook_secret=SECRET, events_maxlen=0)
    assert SECRET not in repr(Settings(webhook_url="https://x.example/h", webhook_secret=SECRET))
