"""Cancel, pause and resume from the pages in Chromium, against a real worker, Redis, SeaweedFS.

The migrations are slowed where it counts (each copy's PUT waits at the fault proxy), so one
runs long enough to be watched, paused and cancelled; nothing here times anything: the tests
poll for states, with generous timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import structlog.testing
from playwright.async_api import Locator, Page, expect

from storage_jobs.client import JobCancelledError, JobHandle, JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import fill, wait_until
from tests.workers import StartInProcess

from .conftest import DashboardServer

pytestmark = pytest.mark.integration

LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "15"}
OBJECTS = 600  # about 10 s of copies at the proxy's pace: the pause lands mid-way
BATCH = 20
UI_WAIT = 120_000  # ms: states reached on a loaded machine, never a measured speed


async def shown_count(locator: Locator) -> int:
    """A count as the page shows it (``1,234``)."""
    return int((await locator.inner_text()).replace(",", "") or 0)


async def polls_later(page: Page, polls: int = 2) -> None:
    """Returns once the page has refreshed itself from the API ``polls`` more times."""
    body = page.locator("body")
    for _ in range(polls):
        before = await body.get_attribute("data-polled") or ""
        await expect(body).not_to_have_attribute("data-polled", before, timeout=30_000)


async def slow_migration(
    jobs: StorageJobsClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    start_in_process: StartInProcess,
) -> tuple[JobHandle, str]:
    """A migration of ``OBJECTS`` objects whose copies are slow, on one small worker."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await fill(seaweedfs, bucket, [f"m/{i:05d}" for i in range(OBJECTS)])
    # Copies wait at the proxy, the listing does not: the batches queue up well ahead.
    fault_proxy.rules = FaultRules(
        latency_s=0.25, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/"
    )
    # Three slots: the coordinator and two batches of 20 (8 copies at a time each).
    await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_MAX_JOBS="3", **LEASE
    )
    handle = await jobs.enqueue(
        MigrateJob(
            src_bucket=bucket, src_prefix="m/", dst_bucket=dst, dst_prefix="m/", batch_size=BATCH
        )
    )
    return handle, dst


async def open_card(page: Page, server: DashboardServer, job_id: str) -> Locator:
    """The migrations page, once the migration's card shows copies under way."""
    await page.goto(server.url + "/migrations")
    card = page.locator(f"[data-row='{job_id}']")
    for _ in range(60):  # its coordinator indexes it when it starts: reload until it is there
        if await card.count():
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(card.locator("[data-field=done]")).not_to_have_text("0", timeout=UI_WAIT)
    return card


async def test_pause_and_resume_of_a_running_migration_from_its_card(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """The bar advances; paused, the copied count stops and says so; resumed, it finishes."""
    handle, dst = await slow_migration(jobs, bucket, seaweedfs, fault_proxy, start_in_process)
    server = start_dashboard(dashboard_actions=True)
    card = await open_card(page, server, handle.job_id)
    done, status = card.locator("[data-field=done]"), card.locator("[data-field=status]")
    bar = card.locator("progress")
    first = await shown_count(done)
    await expect(done).not_to_have_text(f"{first:,}", timeout=UI_WAIT)  # advancing, no reload
    assert await bar.evaluate("el => el.value") > 0

    with structlog.testing.capture_logs() as logs:
        await card.locator("button.pause").click()
    await expect(page.locator("h1")).to_have_text("Migrations and prefix deletes")
    card = page.locator(f"[data-row='{handle.job_id}']")
    done, status = card.locator("[data-field=done]"), card.locator("[data-field=status]")
    await expect(card.locator("button.resume")).to_be_visible()
    await expect(status).to_have_text("paused", timeout=UI_WAIT)
    assert await jobs.control.job_paused(handle.job_id)

    async def settled() -> bool:
        """The batches running at the pause finished theirs and recorded every copy made.

        Keys, not requests: the proxy counts each HTTP attempt (a copy botocore retried is one
        copy), and counts it on arrival, before its answer is recorded.
        """
        progress = await jobs.progress(handle.job_id)
        ids = [batch_job_id(handle.job_id, n) for n in range(1, progress.pages + 2)]
        running = JobStatus.IN_PROGRESS in [await jobs.status(job_id) for job_id in ids]
        return not running and progress.done == len(fault_proxy.copies)

    await wait_until(settled, timeout=180)
    copied = dict(fault_proxy.copies)
    assert len(copied) < OBJECTS
    await polls_later(page)
    assert await shown_count(done) == len(copied)  # the page shows where it stopped...
    await polls_later(page, 3)
    assert await shown_count(done) == len(copied)  # ...and stays there
    assert fault_proxy.copies == copied  # nothing was copied while paused

    async def all_listed() -> bool:
        # Every recorded copy is there; a copy answered a moment ago may list a moment later.
        return len(await admin_storage.list_files(bucket=dst, prefix="m/")) == len(copied)

    await wait_until(all_listed, timeout=30)
    await expect(status).to_have_text("paused")

    await card.locator("button.resume").click()
    card = page.locator(f"[data-row='{handle.job_id}']")
    done, status = card.locator("[data-field=done]"), card.locator("[data-field=status]")
    await expect(card.locator("button.pause")).to_be_visible()
    await expect(done).not_to_have_text(f"{len(copied):,}", timeout=UI_WAIT)  # growing again
    await expect(status).to_have_text("done", timeout=240_000)
    await expect(done).to_have_text(f"{OBJECTS:,}")
    await expect(card.locator("progress")).to_have_js_property("value", 1)
    await expect(card.locator("[data-field=report]")).to_contain_text(dst, timeout=30_000)
    result = await handle.result(timeout=60)
    assert (result.copied, result.failed) == (OBJECTS, 0)
    # Nothing copied twice: no key copied before the pause was sent again after the resume.
    assert {path: fault_proxy.copies[path] for path in copied} == copied
    assert len(fault_proxy.copies) == OBJECTS
    actions = [(e["action"], e["ids"]) for e in logs if e["event"] == "dashboard.action"]
    assert actions == [("pause", [handle.job_id])]


async def test_cancel_of_a_running_migration_from_its_card_writes_the_report(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Cancelled from the page: every batch stops, the state says cancelled, a report exists."""
    handle, dst = await slow_migration(jobs, bucket, seaweedfs, fault_proxy, start_in_process)
    server = start_dashboard(dashboard_actions=True)
    card = await open_card(page, server, handle.job_id)
    with structlog.testing.capture_logs() as logs:
        await card.locator("button.cancel").click()
    card = page.locator(f"[data-row='{handle.job_id}']")
    # Cancelling (or cancelled already): no cancel button is offered again.
    await expect(card.locator("[data-field=status]")).to_be_visible()
    assert await card.locator("button.cancel").count() == 0
    status = card.locator("[data-field=status]")
    await expect(status).to_have_text("cancelled", timeout=UI_WAIT)
    report = card.locator("[data-field=report]")
    await expect(report).to_contain_text(dst, timeout=30_000)
    with pytest.raises(JobCancelledError):
        await handle.result(timeout=60)
    progress = await jobs.progress(handle.job_id)
    assert progress.status == "cancelled" and progress.done < OBJECTS
    assert progress.report_bucket and progress.report_key
    text = (await report.inner_text()).strip()
    assert text == f"{progress.report_bucket}/{progress.report_key}"
    assert await admin_storage.file_exists(bucket=progress.report_bucket, key=progress.report_key)
    copied = sum(fault_proxy.copies.values())
    assert progress.done == copied < OBJECTS
    await page.reload()  # a finished job offers no buttons any more
    card = page.locator(f"[data-row='{handle.job_id}']")
    await expect(card.locator("[data-field=status]")).to_have_text("cancelled")
    assert await card.locator("button").count() == 0
    actions = [(e["action"], e["ids"]) for e in logs if e["event"] == "dashboard.action"]
    assert actions == [("cancel", [handle.job_id])]


async def test_cancel_of_a_queued_job_from_its_detail_page(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Cancelled while queued: the page says cancelled, the list has it, it never runs."""
    queued = await jobs.enqueue(UploadJob(bucket=bucket, key="never.txt", data=b"n"))
    server = start_dashboard(dashboard_actions=True)
    await page.goto(f"{server.url}/jobs/{queued.job_id}")
    await expect(page.locator("#job-status")).to_have_text("queued")
    with structlog.testing.capture_logs() as logs:
        await page.click("#cancel-job")
    await expect(page.locator("#job-status")).to_have_text("cancelled")
    assert await page.locator("#cancel-job").count() == 0
    assert await queued.status() == JobStatus.CANCELLED
    actions = [(e["action"], e["ids"], e["done"]) for e in logs if e["event"] == "dashboard.action"]
    assert actions == [("cancel", [queued.job_id], 1)]

    await page.goto(server.url + "/jobs?status=cancelled")
    await expect(page.locator("#jobs-table tbody tr")).to_have_count(1)
    await expect(page.locator("#jobs-table")).to_contain_text(queued.job_id)
    await page.goto(server.url + "/")
    await expect(page.locator("#count-cancelled")).to_have_text("1")

    await start_in_process(**LEASE)  # a worker now runs what comes after it, and never it
    after = await jobs.enqueue(UploadJob(bucket=bucket, key="after.txt", data=b"a"))
    assert (await after.result(timeout=60)).size == 1
    assert await queued.status() == JobStatus.CANCELLED
    assert not await admin_storage.file_exists(bucket=bucket, key="never.txt")


async def test_queue_pause_and_resume_from_the_overview(
    jobs: StorageJobsClient,
    bucket: str,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Paused from the overview: it says paused and jobs wait; resumed: they run."""
    await start_in_process(**LEASE)
    server = start_dashboard(dashboard_actions=True)
    await page.goto(server.url + "/")
    await expect(page.locator("#queue-state")).to_have_text("running")
    await page.click("#pause-queue")
    await expect(page.locator("#queue-state")).to_have_text("paused")
    await expect(page.locator("#resume-queue")).to_be_visible()
    assert await jobs.queue_paused()
    waiting = await jobs.enqueue(UploadJob(bucket=bucket, key="waits.txt", data=b"w"))
    await expect(page.locator("#count-ready")).to_have_text("1", timeout=30_000)
    await polls_later(page)
    assert await waiting.status() == JobStatus.QUEUED

    await page.click("#resume-queue")
    await expect(page.locator("#queue-state")).to_have_text("running")
    assert not await jobs.queue_paused()
    assert (await waiting.result(timeout=60)).size == 1
    await expect(page.locator("#count-complete")).to_have_text("1", timeout=30_000)
