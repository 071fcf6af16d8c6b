"""The schedules page in Chromium: listed as stored; paused, resumed and removed from it."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import pytest
import structlog.testing
from playwright.async_api import Page, expect

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import CopyJob, DeleteJob

from .conftest import TOKEN, DashboardServer

pytestmark = pytest.mark.integration


async def two_schedules(jobs: StorageJobsClient) -> None:
    """An every-minute copy that has run once, and a nightly delete in Paris time."""
    copy = CopyJob(src_bucket="bkt-a", src_key="a", dst_key="b")
    await jobs.schedule("minutely", copy, every=60)
    record = (await jobs.schedules())[0]
    await jobs.queue.fire_schedules(record.next_ms)  # as a worker would at its tick
    nightly = DeleteJob(bucket="bkt-a", keys=["tmp/x"])
    await jobs.schedule("nightly", nightly, cron="0 3 * * *", timezone="Europe/Paris")


async def test_schedules_are_listed_and_paused_resumed_removed_from_the_page(
    jobs: StorageJobsClient, start_dashboard: Callable[..., DashboardServer], page: Page
) -> None:
    await two_schedules(jobs)
    server = start_dashboard(dashboard_actions=True, dashboard_token=TOKEN)
    await page.goto(server.url + "/login")
    await page.fill("input[name=token]", TOKEN)
    await page.click("main button[type=submit]")
    await page.click("nav >> text=Schedules")
    await expect(page.locator("h1")).to_have_text("Schedules")
    minutely, nightly = page.locator("[data-row=minutely]"), page.locator("[data-row=nightly]")
    await expect(minutely.locator("[data-field=runs]")).to_have_text("1")
    await expect(minutely).to_contain_text("every 60s")
    last_job = (await jobs.schedules())[0].last_job_id  # the tick's job, linked
    assert last_job is not None and last_job.startswith(f"schedule:{jobs.queue_name}:minutely:")
    link = minutely.locator("[data-field=last_tick] a")
    await expect(link).to_have_attribute("href", f"/jobs/{quote(last_job, safe='')}")
    await expect(nightly).to_contain_text("cron 0 3 * * * (Europe/Paris)")
    await expect(nightly.locator("[data-field=state]")).to_have_text("active")

    with structlog.testing.capture_logs() as logs:
        await nightly.locator("button.pause").click()
        await expect(nightly.locator("[data-field=state]")).to_have_text("paused")
        assert (await jobs.schedules())[1].paused
        await nightly.locator("button.resume").click()
        await expect(nightly.locator("[data-field=state]")).to_have_text("active")
        before = time.time()
        resumed = (await jobs.schedules())[1]
        assert not resumed.paused and resumed.next_tick is not None
        assert resumed.next_tick.timestamp() > before
        await minutely.locator("button.remove").click()
        await expect(minutely).to_have_count(0)
    assert [s.name for s in await jobs.schedules()] == ["nightly"]
    done = [(e["action"], e["ids"]) for e in logs if e["event"] == "dashboard.action"]
    assert done == [
        ("pause_schedule", ["nightly"]),
        ("resume_schedule", ["nightly"]),
        ("remove_schedule", ["minutely"]),
    ]


async def test_read_only_shows_the_schedules_without_a_form(
    jobs: StorageJobsClient, start_dashboard: Callable[..., DashboardServer], page: Page
) -> None:
    await two_schedules(jobs)
    server = start_dashboard()  # actions off by default
    await page.goto(server.url + "/schedules")
    await expect(page.locator("[data-row]")).to_have_count(2)
    assert await page.locator("main form[method=post]").count() == 0
    await jobs.unschedule("minutely")
    await jobs.unschedule("nightly")
    await page.reload()
    await expect(page.locator("main")).to_contain_text("No schedules.")
