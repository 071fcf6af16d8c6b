"""Workers for the tests: in the test's own event loop, or as subprocesses.

``running_worker`` runs the worker loop ``storage-jobs worker`` runs (``build_worker``) as a task of
the test's event loop: no process to start, no log file to parse. Tests use it unless a kill, a
signal or the CLI is the point; those start a ``WorkerProcess`` (shared with bench/ in devstack).

An in-process worker shares the test's loop: a test must not block it (no ``time.sleep``, no
synchronous S3 or Redis calls while it waits for the worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from structlog.testing import LogCapture

from storage_jobs.devstack.workers import WorkerProcess, cli_path
from storage_jobs.settings import Settings
from storage_jobs.worker import build_worker

__all__ = [
    "InProcessWorker",
    "StartInProcess",
    "StartWorker",
    "WorkerProcess",
    "cli_path",
    "running_worker",
]

READY_TIMEOUT = 30.0
"""How long a worker may take to connect and start up."""
STOP_TIMEOUT = 30.0
"""How long a stopping worker may take to close (running jobs end first)."""


WORKER_FIELD = "in_process_worker"
"""The field that tells which in-process worker logged an event (a context variable of its task)."""


@dataclass
class InProcessWorker:
    """A worker running as a task of the test's event loop."""

    worker: Any
    """The ``build_worker`` object (its counters, its ``worker_id``)."""
    task: asyncio.Task[None]
    log: list[MutableMapping[str, Any]] = field(repr=False)
    """Every structlog event logged while it runs, in order: the test's and all its workers'."""

    def running(self) -> bool:
        """Whether its loop is still running (it has not crashed)."""
        return not self.task.done()

    def events(self, event: str | None = None, **fields: Any) -> list[MutableMapping[str, Any]]:
        """Its events, in the order they were logged, optionally of one name and fields."""
        mine = {**fields, WORKER_FIELD: self.task.get_name()}
        return [
            e
            for e in self.log
            if (event is None or e.get("event") == event)
            and all(e.get(k) == v for k, v in mine.items())
        ]


def _active_capture() -> LogCapture | None:
    processors = structlog.get_config()["processors"]
    return next((p for p in processors if isinstance(p, LogCapture)), None)


@contextlib.asynccontextmanager
async def _captured_logs() -> AsyncIterator[list[MutableMapping[str, Any]]]:
    # A second worker of the same test joins the first one's capture: replacing it would leave
    # the first worker's loggers writing nowhere.
    if (active := _active_capture()) is not None:
        yield active.entries
        return
    with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as entries:
        yield entries


async def _started(worker: InProcessWorker) -> None:
    """Waits, as ``WorkerProcess.start`` does, until the worker logs ``worker.started``."""
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT
    while not worker.events("worker.started"):
        if worker.task.done():
            await worker.task  # its error, if it failed
            raise AssertionError("the worker stopped before it started")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no worker.started within {READY_TIMEOUT} s")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[InProcessWorker]:
    """Runs a worker in this event loop until the block ends, then stops it.

    The worker is the one ``storage-jobs worker`` runs, without the CLI's signal handling: on exit
    its loop is cancelled (a hard stop: its running jobs' leases lapse) and it closes.
    Its log events are captured, not printed.
    """
    async with _captured_logs() as log:
        worker = build_worker(settings)  # main() installs no signal handler (serve() does)
        # Its task, and every task it starts, log with its name in WORKER_FIELD.
        name, context = f"worker-{uuid.uuid4().hex[:8]}", contextvars.copy_context()
        context.run(structlog.contextvars.bind_contextvars, **{WORKER_FIELD: name})
        task = asyncio.create_task(worker.main(), name=name, context=context)
        running = InProcessWorker(worker, task, log)
        try:
            await _started(running)
            yield running
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.wait_for(worker.close(), STOP_TIMEOUT)


StartWorker = Callable[..., WorkerProcess]
"""The ``start_worker`` fixture: starts a worker subprocess with environment overrides."""
StartInProcess = Callable[..., Awaitable[InProcessWorker]]
"""The ``start_in_process`` fixture: starts an in-process worker with environment overrides."""
