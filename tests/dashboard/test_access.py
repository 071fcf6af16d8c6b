"""Access rules against a served dashboard: token, read-only mode, CSRF, security headers."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
import structlog.testing
from playwright.async_api import Page, expect

from storage_jobs.client import StorageJobsClient
from storage_jobs.queue import DeadLetterStore

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
ACTION_ENDPOINTS = ["/actions/dead-letters"]
"""Every POST that changes something (issue 12 adds cancel, pause and resume here)."""


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


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def test_without_the_token_pages_redirect_to_login_and_the_api_answers_401(
    start_dashboard: Callable[..., DashboardServer],
) -> None:
    server = start_dashboard(dashboard_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in PAGES:
            answer = await http.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/login", path
        for path in API:
            assert (await http.get(path)).status_code == 401, path
            wrong = await http.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
        for path in ACTION_ENDPOINTS:
            assert (await http.post(path, data={"action": "drop"})).status_code == 303, path
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


async def test_read_only_renders_no_action_and_refuses_every_action_endpoint(
    jobs: StorageJobsClient, start_dashboard: Callable[..., DashboardServer], page: Page
) -> None:
    job_id = await a_dead_letter(jobs)
    server = start_dashboard()  # STORAGE_JOBS_DASHBOARD_ACTIONS defaults to off
    for path in ["/", "/dead-letters", f"/dead-letters/{job_id}", f"/jobs/{job_id}"]:
        await page.goto(server.url + path)
        await expect(page.locator("main")).to_be_visible()
        actions = page.locator(
            "main button", has_text=re.compile("replay|drop|cancel|pause|resume", re.I)
        )
        assert await page.locator("main button").count() > 0 or path != "/dead-letters"
        assert await actions.count() == 0, path
        assert await page.locator("main form[method=post]").count() == 0, path
    async with httpx.AsyncClient(base_url=server.url) as http:
        csrf = csrf_of((await http.get("/login")).text)
        for path in ACTION_ENDPOINTS:
            for action in ("replay", "drop"):
                answer = await http.post(
                    path, data={"csrf": csrf, "action": action, "scope": "one", "ids": job_id}
                )
                assert answer.status_code == 403, (path, action)
    assert await DeadLetterStore(jobs.redis, jobs.settings.queue_name).get(job_id) is not None


async def test_a_post_without_the_csrf_token_is_refused(
    jobs: StorageJobsClient, start_dashboard: Callable[..., DashboardServer]
) -> None:
    job_id = await a_dead_letter(jobs)
    store = DeadLetterStore(jobs.redis, jobs.settings.queue_name)
    server = start_dashboard(dashboard_actions=True, dashboard_token=TOKEN)
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.get("/login")
        await http.post("/login", data={"csrf": csrf_of(login.text), "token": TOKEN})
        page = await http.get("/dead-letters")
        assert page.status_code == 200
        form = {"action": "drop", "scope": "one", "ids": job_id}
        for bad in ({}, {"csrf": "forged"}, {"csrf": csrf_of(login.text)}):  # old session's
            assert (
                await http.post("/actions/dead-letters", data={**form, **bad})
            ).status_code == 403
        assert await store.get(job_id) is not None
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
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ["/login", "/", "/api/overview", "/static/dashboard.js", "/nowhere"]:
            headers = (await http.get(path)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert "frame-ancestors 'none'" in csp, path
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path
