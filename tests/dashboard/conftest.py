"""Fixtures for the dashboard tests: the app served by uvicorn in a thread, and Chromium.

The browser is Debian's ``chromium`` (``.ci/run`` installs it); a missing one fails the tests.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from storage_jobs.dashboard import create_app
from storage_jobs.devstack.ports import free_port
from storage_jobs.settings import Settings

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "test-dashboard-token-0123456789"


class DashboardServer:
    """The dashboard app under uvicorn on a free loopback port, in a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> DashboardServer:
        """Starts serving and waits until it listens."""
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the dashboard did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stops serving."""
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def start_dashboard(settings: Settings) -> Iterator[Callable[..., DashboardServer]]:
    """Starts dashboards on this test's queue, with settings overridden (``dashboard_token``...)."""
    started: list[DashboardServer] = []

    def start(**overrides: Any) -> DashboardServer:
        server = DashboardServer(Settings(**{**settings.model_dump(), **overrides})).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def chromium_path() -> str:
    """Debian's chromium; failing (never skipping) when it is missing."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed (apt-get install chromium; .ci/run does)")
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium for the session."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context and page (no cookies from another test)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``STORAGE_JOBS_SCREENSHOTS`` (``docs``: the README's), else tmp."""
    target = os.environ.get("STORAGE_JOBS_SCREENSHOTS")
    return Path(target) if target else tmp_path
