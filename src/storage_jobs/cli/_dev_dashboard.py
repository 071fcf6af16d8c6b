"""The dashboard of ``storage-jobs dev``: uvicorn in a thread, on a free loopback port."""

from __future__ import annotations

import threading
import time

import uvicorn

from ..dashboard import create_app
from ..devstack.ports import free_port
from ..settings import Settings

__all__ = ["DevDashboard"]


class DevDashboard:
    """Serves the dashboard of the embedded stack (loopback only, so no token; actions on)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        app = create_app(settings.model_copy(update={"dashboard_actions": True}))
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False
            )
        )
        # Off the main thread, uvicorn installs no signal handlers: Ctrl-C stays dev's own.
        self.thread = threading.Thread(target=self.server.run, name="dashboard", daemon=True)

    def start(self) -> DevDashboard:
        """Starts serving and waits until it listens."""
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stops serving."""
        self.server.should_exit = True
        if self.thread.is_alive():  # dev registers this stop before the start
            self.thread.join(10)
