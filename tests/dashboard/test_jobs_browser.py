"""Job detail and migration progress in Chromium against a real worker and SeaweedFS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.jobs import DeleteJob, DeleteResult, MigrateJob, UploadJob
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import put_many
from tests.workers import StartInProcess

from .conftest import DashboardServer

pytestmark = pytest.mark.integration

LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}


async def test_job_detail_of_a_partial_delete_lists_its_failed_keys_with_codes(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    fault_proxy: FaultProxy,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """Two keys denied for good: the detail page's table names both, with AccessDenied."""
    keys = [f"k/{i}" for i in range(6)]
    await put_many(admin_storage, bucket, keys)
    fault_proxy.rules.delete_errors = {keys[1]: "AccessDenied", keys[4]: "AccessDenied"}
    await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **LEASE)
    handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    result = await handle.result(timeout=60)
    assert isinstance(result, DeleteResult) and len(result.failed) == 2
    server = start_dashboard()

    await page.goto(f"{server.url}/jobs?q={handle.job_id}")
    await expect(page.locator("#job-status")).to_have_text("complete")
    rows = page.locator("#failed-keys tbody tr")
    await expect(rows).to_have_count(2)
    shown = [await rows.nth(i).locator("td").all_inner_texts() for i in range(2)]
    assert sorted((key, code) for key, code, _ in shown) == [
        (keys[1], "AccessDenied"),
        (keys[4], "AccessDenied"),
    ]
    assert "Not kept" in await page.locator("#job-payload").inner_text()


async def test_job_detail_truncates_inline_data(
    jobs: StorageJobsClient,
    bucket: str,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """A queued upload's inline bytes are not on its page; its bucket and key are."""
    secret_bytes = b"do-not-show-" * 100
    handle = await jobs.enqueue(UploadJob(bucket=bucket, key="big.bin", data=secret_bytes))
    server = start_dashboard()
    await page.goto(f"{server.url}/jobs/{handle.job_id}")
    payload = await page.locator("#job-payload").inner_text()
    assert "big.bin" in payload
    assert "inline data" in payload
    assert "do-not-show" not in await page.content()


async def test_a_running_migrations_bar_advances_until_its_report(
    jobs: StorageJobsClient,
    bucket: str,
    admin_storage: StorageClient,
    start_in_process: StartInProcess,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
    screenshot_dir: Path,
    fault_proxy: FaultProxy,
) -> None:
    """The open page's bar moves without a reload, shows a rate, and ends at 100 % with a report.

    Actions are on, so the docs' screenshot shows the card's pause and cancel buttons
    (``test_control_browser`` presses them).
    """
    keys = [f"src/{i:05d}" for i in range(500)]
    await put_many(admin_storage, bucket, keys)
    server = start_dashboard(dashboard_actions=True)
    # Each copy waits 0.15 s at the proxy (8 at a time: about 9 s in all), so the page, polling
    # every 2 s, sees several steps; unslowed, a quiet machine copied all between two polls.
    fault_proxy.rules = FaultRules(
        latency_s=0.15, methods=frozenset({"PUT"}), path_prefix=f"/{bucket}/dst/"
    )
    await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_MAX_JOBS="2", **LEASE
    )
    handle = await jobs.enqueue(
        MigrateJob(
            src_bucket=bucket,
            src_prefix="src/",
            dst_bucket=bucket,
            dst_prefix="dst/",
            batch_size=25,
            exclude=["*7"],  # 50 keys filtered out
            verify=True,
        )
    )
    copied = len(keys) - 50
    deadline = time.monotonic() + 30
    while not (await jobs.progress(handle.job_id)).listed:
        assert time.monotonic() < deadline, "the migration never started"
        await asyncio.sleep(0.1)
    await page.goto(server.url + "/migrations")
    card = page.locator(f"[data-row='{handle.job_id}']")
    bar = card.locator("progress")
    await expect(bar).to_be_visible()
    done = card.locator("[data-field=done]")
    seen = [int((await done.inner_text()).replace(",", ""))]
    values = {await bar.evaluate("el => el.value")}
    deadline = time.monotonic() + 300  # generous: the machine is shared and often loaded
    while seen[-1] < copied:
        assert time.monotonic() < deadline, f"the page stopped at {seen[-1]} copied"
        await asyncio.sleep(0.3)
        now = int((await done.inner_text()).replace(",", ""))
        if now != seen[-1]:
            seen.append(now)
            values.add(await bar.evaluate("el => el.value"))
            if len(seen) == 3 and screenshot_dir.is_dir():
                await page.screenshot(path=str(screenshot_dir / "dashboard-migration.png"))
    # Updated in steps on the open page (no reload), never backwards, and the bar with it.
    assert seen[0] < copied and len(seen) >= 3, seen
    assert seen == sorted(seen)
    assert len(values) >= 3, values
    await expect(bar).to_have_js_property("value", 1)
    await expect(card.locator("[data-field=status]")).to_have_text("done", timeout=30_000)
    await expect(card.locator("[data-field=done]")).to_have_text(f"{copied:,}")
    # The migration's own outcomes, kept current by the same polls (a path into the row).
    for name, count in (("filtered", 50), ("verified", copied), ("mismatch", 0)):
        await expect(card.locator(f"[data-field='outcomes.{name}']")).to_have_text(f"{count:,}")
    await expect(card.locator("dt", has_text="extraneous deleted")).to_be_visible()
    await expect(card.locator("[data-field=report]")).to_contain_text(bucket, timeout=10_000)
    assert await card.locator("[data-field=rate]").inner_text() != ""
