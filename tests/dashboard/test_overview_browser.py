"""The overview in Chromium against a real worker, Redis and SeaweedFS."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.dashboard import Overview
from storage_jobs.dashboard._reads import IN_PROGRESS_CHECKED
from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.jobs import CopyJob, UploadJob
from tests.workers import WorkerProcess, cli_path

from .conftest import DashboardServer

pytestmark = pytest.mark.integration

LEASE = {"STORAGE_JOBS_LEASE_SECONDS": "10"}


def queue_cli(worker_env: dict[str, str]) -> dict[str, object]:
    """What ``storage-jobs queue --json`` says about the test's queue."""
    out = subprocess.run(
        [cli_path(), "queue", "--json"],
        env={**os.environ, **worker_env},
        capture_output=True,
        check=True,
        timeout=60,
    )
    data: dict[str, object] = json.loads(out.stdout)
    return data


async def test_overview_shows_the_counts_of_queue_json(
    jobs: StorageJobsClient,
    bucket: str,
    start_worker: Callable[..., WorkerProcess],
    start_dashboard: Callable[..., DashboardServer],
    worker_env: dict[str, str],
    page: Page,
    screenshot_dir: Path,
) -> None:
    """Ready, in progress, deferred, dead letters and paused on the page equal the CLI's."""
    worker = start_worker(**LEASE)
    failing = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="missing", dst_key="x"))
    with pytest.raises(JobFailedError):
        await failing.result(timeout=60)
    done = await jobs.enqueue(UploadJob(bucket=bucket, key="ok.txt", data=b"ok"))
    await done.result(timeout=60)
    await jobs.enqueue_many(
        [UploadJob(bucket=bucket, key=f"later/{i}", data=b"x") for i in range(3)], defer_by=3600
    )
    dropped = await jobs.enqueue(UploadJob(bucket=bucket, key="no", data=b"x"), defer_by=3600)
    assert await dropped.cancel()
    server = start_dashboard(dashboard_actions=True)  # the screenshot shows the queue's button
    await page.goto(server.url + "/")
    await expect(page.locator("text=Live workers")).to_be_visible()
    await expect(page.locator("#history-chart")).to_be_visible()
    if screenshot_dir.is_dir():
        await page.screenshot(path=str(screenshot_dir / "dashboard-overview.png"), full_page=True)
    worker.stop()  # nothing takes the next jobs: the counts hold still for the comparison
    await jobs.enqueue_many([UploadJob(bucket=bucket, key=f"now/{i}", data=b"x") for i in range(4)])

    await page.reload()
    cli = queue_cli(worker_env)
    shown = {
        "depth": await page.locator("#count-ready").inner_text(),
        "in_progress": await page.locator("#count-in-progress").inner_text(),
        "deferred": await page.locator("#count-deferred").inner_text(),
        "dead_letters": await page.locator("#count-dead-letters").inner_text(),
    }
    assert shown == {name: f"{cli[name]:,}" for name in shown}
    assert shown == {"depth": "4", "in_progress": "0", "deferred": "3", "dead_letters": "1"}
    assert cli["paused"] is False
    await expect(page.locator("#queue-state")).to_have_text("running")
    finished = [await page.locator(f"#count-{s}").inner_text() for s in ("complete", "failed")]
    assert finished == ["1", "1"]
    await expect(page.locator("#count-cancelled")).to_have_text("1")
    # The deferred job cancelled before it ran is in the chart once (the cancel counted it).
    answer = Overview.model_validate_json(
        await (await page.request.get(server.url + "/api/overview")).text()
    )
    assert sum(minute.cancelled for minute in answer.history) == 1
    chart = await (await page.request.get(server.url + "/chart.svg")).text()
    assert chart_total(chart, "cancelled") == 1

    await jobs.pause_queue()
    await page.reload()
    assert queue_cli(worker_env)["paused"] is True
    await expect(page.locator("#queue-state")).to_have_text("paused")


async def test_overview_refreshes_itself_and_charts_the_workers_counters(
    jobs: StorageJobsClient,
    bucket: str,
    start_worker: Callable[..., WorkerProcess],
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    """A count changes on the open page without a reload; the chart has the finished jobs."""
    server = start_dashboard()
    await page.goto(server.url + "/")
    await expect(page.locator("#count-deferred")).to_have_text("0")
    await jobs.enqueue_many(
        [UploadJob(bucket=bucket, key=f"d/{i}", data=b"x") for i in range(2)], defer_by=3600
    )
    await expect(page.locator("#count-deferred")).to_have_text("2", timeout=10_000)

    start_worker(**LEASE)
    handles = await jobs.enqueue_many(
        [UploadJob(bucket=bucket, key=f"n/{i}", data=b"x") for i in range(5)]
    )
    for handle in handles:
        await handle.result(timeout=60)
    answer = Overview.model_validate_json(
        await (await page.request.get(server.url + "/api/overview")).text()
    )
    assert sum(minute.success for minute in answer.history) == 5
    chart = await (await page.request.get(server.url + "/chart.svg")).text()
    assert chart_total(chart, "succeeded") == 5


async def test_a_running_job_is_in_progress_not_deferred_on_a_busy_queue(
    jobs: StorageJobsClient,
    bucket: str,
    fault_proxy: FaultProxy,
    start_worker: Callable[..., WorkerProcess],
    start_dashboard: Callable[..., DashboardServer],
    worker_env: dict[str, str],
    page: Page,
) -> None:
    """Its score is its lease's deadline, after now: still in progress, never listed deferred.

    More ready jobs wait than the overview checks for a lease, as on a busy queue, so the
    running job is told apart by the later side's check alone.
    """
    # The upload's PUT reaches S3 but its answer is held: the job runs until it is let go.
    fault_proxy.rules = FaultRules(
        answer_delay_s=50.0, methods=frozenset({"PUT"}), path_prefix=f"/{bucket}/slow/"
    )
    try:
        start_worker(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, **LEASE)
        running = await jobs.enqueue(UploadJob(bucket=bucket, key="slow/1", data=b"x"))
        for _ in range(600):
            if await running.status() == JobStatus.IN_PROGRESS:
                break
            await asyncio.sleep(0.05)
        assert await running.status() == JobStatus.IN_PROGRESS
        await jobs.pause_queue()  # the worker takes nothing more; the running job goes on
        ready = IN_PROGRESS_CHECKED + 1
        await jobs.enqueue_many(
            [UploadJob(bucket=bucket, key=f"r/{i}", data=b"x") for i in range(ready)]
        )
        deferred = await jobs.enqueue_many(
            [UploadJob(bucket=bucket, key=f"d/{i}", data=b"x") for i in range(2)], defer_by=3600
        )
        server = start_dashboard()
        await page.goto(server.url + "/")
        cli = queue_cli(worker_env)
        shown = {
            "depth": await page.locator("#count-ready").inner_text(),
            "in_progress": await page.locator("#count-in-progress").inner_text(),
            "deferred": await page.locator("#count-deferred").inner_text(),
        }
        assert shown == {name: f"{cli[name]:,}" for name in shown}
        assert shown == {"depth": f"{ready:,}", "in_progress": "1", "deferred": "2"}
        await page.goto(server.url + "/jobs?status=deferred")
        rows = page.locator("#jobs-table tbody tr td:first-child code")
        assert sorted(await rows.all_inner_texts()) == sorted(h.job_id for h in deferred)
        assert await running.status() == JobStatus.IN_PROGRESS  # it ran all along
    finally:
        fault_proxy.rules.answer_delay_s = 0  # let the held answer go: the job finishes
    await running.result(timeout=60)


def chart_total(svg: str, label: str) -> int:
    """The sum of one series' bars in the chart, read from their titles."""
    return sum(
        int(part.split(f" {label}")[0].rsplit(" ", 1)[1])
        for part in svg.split("<title>")[1:]
        if f" {label}</title>" in part
    )
