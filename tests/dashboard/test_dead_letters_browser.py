"""Dead letters replayed and dropped from the pages, one, a selection, and a filter's matches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Page, expect

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.jobs import CopyJob, CopyResult, UploadJob
from storage_jobs.queue import DeadLetterStore
from storage_jobs.storage import StorageClient
from tests.workers import StartInProcess

from .conftest import DashboardServer

pytestmark = pytest.mark.integration

LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}
# The worker refuses inline data the producer allows: uploads become InvalidPayload letters.
STRICT = {**LEASE, "STORAGE_JOBS_MAX_INLINE_BYTES": "1"}


async def dead_copy(jobs: StorageJobsClient, bucket: str, key: str, job_id: str) -> None:
    """A copy of a missing object: it fails for good and is dead-lettered."""
    handle = await jobs.enqueue(
        CopyJob(src_bucket=bucket, src_key=key, dst_key=f"copied/{key}"), job_id=job_id
    )
    with pytest.raises(JobFailedError):
        await handle.result(timeout=60)


async def test_a_dead_letter_replayed_from_its_page_runs_and_succeeds(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Replay on the letter's page enqueues it again; with its source there now, it succeeds."""
    await start_in_process(**LEASE)
    job_id = f"{jobs.settings.queue_name}-late"
    await dead_copy(jobs, bucket, "late.txt", job_id)
    await admin_storage.upload_file(bucket=bucket, key="late.txt", data=b"arrived")
    server = start_dashboard(dashboard_actions=True)

    await page.goto(server.url + "/dead-letters")
    await page.click(f"text={job_id}")
    await expect(page.locator("#error-type")).to_contain_text("NotFound")
    await page.click("#replay-one")
    await expect(page.locator("#done-count")).to_have_text("1")

    result = await jobs.handle(job_id).result(timeout=60)
    assert isinstance(result, CopyResult)
    assert result.dst_key == "copied/late.txt"
    assert await DeadLetterStore(jobs.redis, jobs.settings.queue_name).count() == 0


async def test_bulk_replay_of_a_filter_replays_exactly_its_matches(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Replay all of kind copy: the count is confirmed first, then exactly those three run.

    Two uploads to a missing bucket stay dead letters; a selection of them is then dropped.
    """
    await start_in_process(**STRICT)
    q = jobs.settings.queue_name  # job ids are global in Redis: make them the test's own
    for i in range(3):
        await dead_copy(jobs, bucket, f"src-{i}", f"{q}-copy-{i}")
    for i in range(2):
        handle = await jobs.enqueue(
            UploadJob(bucket=bucket, key=f"u{i}", data=b"xx"), job_id=f"{q}-upload-{i}"
        )
        with pytest.raises(JobFailedError):
            await handle.result(timeout=60)
    for i in range(3):
        await admin_storage.upload_file(bucket=bucket, key=f"src-{i}", data=b"now here")
    server = start_dashboard(dashboard_actions=True)
    store = DeadLetterStore(jobs.redis, jobs.settings.queue_name)
    assert await store.count() == 5

    await page.goto(server.url + "/dead-letters?kind=copy")
    await expect(page.locator("#dead-table tbody tr")).to_have_count(3)
    await page.click("#bulk-filter button[value=replay]")
    await expect(page.locator("#confirm-count")).to_have_attribute("data-count", "3")
    assert await store.count() == 5  # nothing happens before the count is confirmed
    await page.click("#confirm-action")
    await expect(page.locator("#done-count")).to_have_text("3")

    for i in range(3):
        assert isinstance(await jobs.handle(f"{q}-copy-{i}").result(timeout=60), CopyResult)
    assert sorted(await store.ids()) == [f"{q}-upload-0", f"{q}-upload-1"]

    await page.goto(server.url + "/dead-letters")
    for i in range(2):
        await page.check(f"input[name=ids][value={q}-upload-{i}]")
    await page.click("#bulk-selected button[value=drop]")
    await expect(page.locator("#confirm-count")).to_have_attribute("data-count", "2")
    await page.click("#confirm-action")
    await expect(page.locator("#done-count")).to_have_text("2")
    assert await store.count() == 0


async def test_a_confirmation_whose_count_changed_does_nothing(
    jobs: StorageJobsClient,
    bucket: str,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """A dead letter added between the confirmation and the click: refused, asked again."""
    await start_in_process(**LEASE)
    q = jobs.settings.queue_name
    await dead_copy(jobs, bucket, "a", f"{q}-a")
    server = start_dashboard(dashboard_actions=True)
    await page.goto(server.url + "/dead-letters")
    await page.click("#bulk-filter button[value=drop]")
    await expect(page.locator("#confirm-count")).to_have_attribute("data-count", "1")
    await dead_copy(jobs, bucket, "b", f"{q}-b")
    await page.click("#confirm-action")
    await expect(page.locator("#confirm-count")).to_have_attribute("data-count", "2")
    await expect(page.locator("[role=alert]")).to_contain_text("not 1")
    store = DeadLetterStore(jobs.redis, jobs.settings.queue_name)
    assert await store.count() == 2
