"""``storage-jobs worker`` runs on uvloop when it is installed, on asyncio's loop otherwise."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

import pytest

from storage_jobs.cli._worker_cmd import use_fast_event_loop
from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings
from tests.workers import WorkerProcess


def _in_a_thread(blocked: bool) -> tuple[str, str]:
    """Runs use_fast_event_loop where the thread's loop is its own (not the tests' loop)."""
    out: list[tuple[str, str]] = []

    def run() -> None:
        saved = sys.modules.get("uvloop")
        if blocked:
            sys.modules["uvloop"] = None  # type: ignore[assignment]  # import fails
        try:
            chosen = use_fast_event_loop()
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:  # none set: arq makes asyncio's own
                out.append((chosen, "none set"))
                return
            out.append((chosen, type(loop).__module__.split(".")[0]))
            loop.close()
        finally:
            if blocked:
                if saved is None:
                    del sys.modules["uvloop"]
                else:
                    sys.modules["uvloop"] = saved

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return out[0]


def test_uvloop_when_installed_else_asyncio() -> None:
    """With uvloop importable the thread's loop is uvloop's; without it, asyncio's default."""
    import uvloop  # noqa: F401  # installed by the dev group and the `fast` extra: never skipped

    assert _in_a_thread(blocked=False) == ("uvloop", "uvloop")
    assert _in_a_thread(blocked=True) == ("asyncio", "none set")


@pytest.mark.integration
async def test_worker_reports_its_loop_and_runs_jobs_on_it(
    start_worker: Callable[..., WorkerProcess], e2e_redis_url: str, queue_name: str, bucket: str
) -> None:
    """The real worker says event_loop=uvloop at start and runs an upload on it."""
    worker = start_worker()
    started = [e for e in worker.events() if e.get("event") == "worker.started"]
    assert [e.get("event_loop") for e in started] == ["uvloop"]
    settings = Settings(redis_url=e2e_redis_url, queue_name=queue_name)
    async with StorageJobsClient(settings=settings) as client:
        handle = await client.enqueue(UploadJob(bucket=bucket, key="loop", data=b"uv"))
        assert (await handle.result(timeout=30)).size == 2
