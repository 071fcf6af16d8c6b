"""Access rules against a served dashboard: token, read-only mode, CSRF, security headers."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
import structlog.testing
from playwright.async_api import Page, expect
from starlette.routing import Route

from storage_jobs.client import JobHandle, JobStatus, StorageJobsClient
from storage_jobs.dashboard import create_app
from storage_jobs.dashboard._actions import ACTIONS
from storage_jobs.jobs import MigrateJob
from storage_jobs.queue import DeadLetterStore, index_prefix_job
from storage_jobs.settings import Settings

from .conftest import TOKEN, DashboardServer

pytestmark = pytest.mark.integration

PAGES = [
    "/",
    "/jobs",
    "/jobs/some-id",
    "/migrations",
    "/dead-letters",
    "/dead-letters/x",
    "/workers",
    "/schedules",
    "/chart.svg",
]
API = [
    "/api/overview",
    "/api/jobs",
    "/api/jobs/some-id",
    "/api/migrations",
    "/api/dead-letters",
    "/api/dead-letters/x",
    "/api/workers",
    "/api/schema/JobPage",
]
ACTION_ENDPOINTS = {
    "/actions/dead-letters": ("replay", "drop"),
    "/actions/jobs": ("cancel", "pause", "resume"),
    "/actions/queue": ("pause_queue", "resume_queue"),
    "/actions/schedules": ("pause_schedule", "resume_schedule", "remove_schedule"),
}
"""Every POST that changes something, with the actions it takes (each of ``ACTIONS`` once)."""


def action_forms(job_id: str) -> list[tuple[str, dict[str, str]]]:
    """A well-formed form (CSRF aside) for every action at its endpoint, aimed at ``job_id``."""
    return [
        (path, {"action": action, "scope": "one", "ids": job_id})
        for path, actions in ACTION_ENDPOINTS.items()
        for action in actions
    ]


async def nothing_changed(jobs: StorageJobsClient, dead_id: str, queued: JobHandle) -> None:
    """The dead letter is still there, the queue runs and the queued job is still queued."""
    assert await DeadLetterStore(jobs.redis, jobs.settings.queue_name).get(dead_id) is not None
    assert not await jobs.queue_paused()
    assert await queued.status() == JobStatus.QUEUED
    assert not await jobs.control.job_paused(queued.job_id)


async def a_dead_letter(jobs: StorageJobsClient) -> str:
    """Stores a dead letter through the queue's own store (no worker needed for access rules)."""
    job_id = f"{jobs.settings.queue_name}-dead"
    await DeadLetterStore(jobs.redis, jobs.settings.queue_name).add(
        job_id=job_id,
        function="storage_jobs.copy",
        raw_payload=b"{}",
        error_type="NotFound",
        message="gone",
    )
    return job_id


def browser_like(server: DashboardServer) -> dict[str, str]:
    """The Origin header a browser sends with a POST from one of the dashboard's pages."""
    return {"Origin": server.url}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_without_the_token_pages_redirect_to_login_and_the_api_answers_401(
    start_dashboard: Callable[..., DashboardServer],
) -> None:
    server = start_dashboard(dashboard_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url, headers=browser_like(server)) as http:
        for path in PAGES:
            answer = await http.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path
        for path in API:
            assert (await http.get(path)).status_code == 401, path
            wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
        for path in ACTION_ENDPOINTS:
            assert (await http.post(path, data={"action": "drop"})).status_code == 303, path
            assert (await http.get(path)).status_code == 303, path
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for path in ["/", "/api/overview", "/api/jobs"]:
            assert (await http.get(path, headers=bearer)).status_code == 200, path


async def test_login_form_sets_a_session_that_opens_the_pages(
    start_dashboard: Callable[..., DashboardServer], page: Page
) -> None:
    server = start_dashboard(dashboard_token=TOKEN)
    await page.goto(server.url + "/workers")
    assert page.url.endswith("/login")
    await page.fill("input[name=token]", "wrong")
    await page.click("main button[type=submit]")
    await expect(page.locator("[role=alert]")).to_have_text("wrong token")
    await page.fill("input[name=token]", TOKEN)
    await page.click("main button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Overview")
    answer = await page.request.get(server.url + "/api/overview")
    assert answer.status == 200
    cookie = next(c for c in await page.context.cookies() if c["name"] == "sj_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert TOKEN not in cookie["value"]


def test_every_action_and_every_action_route_is_in_action_endpoints() -> None:
    """So the read-only and CSRF tests below cover whatever action is added."""
    listed = [a for actions in ACTION_ENDPOINTS.values() for a in actions]
    assert sorted(listed) == sorted(ACTIONS)
    app = create_app(Settings())
    posts = {
        route.path
        for route in app.routes
        if isinstance(route, Route) and route.methods and "POST" in route.methods
    }
    assert posts - {"/login", "/logout"} == set(ACTION_ENDPOINTS)


async def test_read_only_renders_no_action_and_refuses_every_action_endpoint(
    jobs: StorageJobsClient,
    bucket: str,
    start_dashboard: Callable[..., DashboardServer],
    page: Page,
) -> None:
    job_id = await a_dead_letter(jobs)
    queued = await jobs.enqueue(
        MigrateJob(src_bucket=bucket, src_prefix="a/", dst_bucket=bucket, dst_prefix="b/")
    )
    await index_prefix_job(jobs.redis, jobs.settings.queue_name, queued.job_id)
    server = start_dashboard()  # STORAGE_JOBS_DASHBOARD_ACTIONS defaults to off
    for path in [
        "/",
        "/dead-letters",
        f"/dead-letters/{job_id}",
        f"/jobs/{job_id}",
        f"/jobs/{queued.job_id}",
        "/jobs?status=queued",
        "/migrations",
    ]:
        await page.goto(server.url + path)
        await expect(page.locator("main")).to_be_visible()
        actions = page.locator(
            "main button", has_text=re.compile("replay|drop|cancel|pause|resume", re.I)
        )
        assert await page.locator("main button").count() > 0 or path != "/dead-letters"
        assert await actions.count() == 0, path
        assert await page.locator("main form[method=post]").count() == 0, path
    async with httpx.AsyncClient(base_url=server.url, headers=browser_like(server)) as http:
        csrf = csrf_of((await http.get("/login")).text)
        for target in (job_id, queued.job_id, jobs.settings.queue_name):
            for path, form in action_forms(target):
                answer = await http.post(path, data={**form, "csrf": csrf})
                assert answer.status_code == 403, (path, form)
    await nothing_changed(jobs, job_id, queued)


async def test_a_post_without_the_csrf_token_is_refused(
    jobs: StorageJobsClient, bucket: str, start_dashboard: Callable[..., DashboardServer]
) -> None:
    job_id = await a_dead_letter(jobs)
    queued = await jobs.enqueue(
        MigrateJob(src_bucket=bucket, src_prefix="a/", dst_bucket=bucket, dst_prefix="b/")
    )
    store = DeadLetterStore(jobs.redis, jobs.settings.queue_name)
    server = start_dashboard(dashboard_actions=True, dashboard_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url, headers=browser_like(server)) as http:
        login = await http.get("/login")
        await http.post("/login", data={"csrf": csrf_of(login.text), "token": TOKEN})
        page = await http.get("/dead-letters")
        assert page.status_code == 200
        for target in (job_id, queued.job_id, jobs.settings.queue_name):
            for path, form in action_forms(target):
                for bad in ({}, {"csrf": "forged"}, {"csrf": csrf_of(login.text)}):  # old session's
                    answer = await http.post(path, data={**form, **bad})
                    assert answer.status_code == 403, (path, form, bad)
        await nothing_changed(jobs, job_id, queued)
        form = {"action": "drop", "scope": "one", "ids": job_id}
        with structlog.testing.capture_logs() as logs:
            done = await http.post(
                "/actions/dead-letters", data={**form, "csrf": csrf_of(page.text)}
            )
        assert done.status_code == 200
    assert await store.get(job_id) is None
    actions = [e for e in logs if e["event"] == "dashboard.action"]
    assert [(e["action"], e["ids"], e["done"]) for e in actions] == [("drop", [job_id], 1)]


async def test_every_answer_carries_the_security_headers(
    start_dashboard: Callable[..., DashboardServer],
) -> None:
    server = start_dashboard(dashboard_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url, headers=browser_like(server)) as http:
        for path in ["/login", "/", "/api/overview", "/static/dashboard.js", "/nowhere"]:
            headers = (await http.get(path)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert "frame-ancestors 'none'" in csp, path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path


async def test_an_action_returns_only_to_a_page_of_the_dashboard(
    jobs: StorageJobsClient, start_dashboard: Callable[..., DashboardServer]
) -> None:
    """``next`` names where a button's page was; another site is never redirected to."""
    server = start_dashboard(dashboard_actions=True)
    async with httpx.AsyncClient(base_url=server.url, headers=browser_like(server)) as http:
        csrf = csrf_of((await http.get("/")).text)
        for action, wanted, expected in (
            ("pause_queue", "//evil.example/x", "/"),
            ("resume_queue", "https://evil.example/", "/"),
            ("pause_queue", "/jobs?status=queued", "/jobs?status=queued"),
        ):
            answer = await http.post(
                "/actions/queue", data={"csrf": csrf, "action": action, "next": wanted}
            )
            assert answer.status_code == 303 and answer.headers["location"] == expected, wanted
        assert await jobs.queue_paused()
        again = await http.post("/actions/queue", data={"csrf": csrf, "action": "pause_queue"})
        assert again.status_code == 409 and "paused_already" in again.text  # refused: says why
