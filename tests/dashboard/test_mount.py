"""``create_app`` mounted inside another app: links, redirects and cookies keep the prefix."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from storage_jobs.dashboard import create_app
from storage_jobs.settings import Settings

from .conftest import TOKEN

pytestmark = pytest.mark.integration


async def test_mounted_under_a_prefix(settings: Settings) -> None:
    host = FastAPI()
    served = {"dashboard_token": TOKEN, "dashboard_hosts": ["app.test"]}  # the host app's name
    host.mount("/jobs", create_app(Settings(**{**settings.model_dump(), **served})))
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        first = await http.get("/jobs/workers")
        assert first.status_code == 303 and first.headers["location"] == "/jobs/login"
        login = await http.get("/jobs/login")
        assert (
            'action="/jobs/login"' in login.text
            and 'href="/jobs/static/dashboard.css"' in login.text
        )
        assert "Path=/jobs" in first.headers["set-cookie"]  # the new session's cookie
        page = await http.get("/jobs/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert page.status_code == 200
        assert (
            'href="/jobs/dead-letters"' in page.text
            and 'data-api="/jobs/api/overview"' in page.text
        )
        assert (await http.get("/jobs/static/dashboard.js")).status_code == 200
