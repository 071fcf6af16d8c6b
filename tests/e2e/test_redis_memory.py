"""Redis as a resource: an evicting policy is reported (or refused), a full Redis loses nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, RedisServer
from storage_jobs.errors import QueueFullError
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import QueueKeys
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess, cli_path

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cli_path(), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_evicting_redis_is_logged_shown_and_refused_when_required(
    tmp_path: Path, worker_env: dict[str, str], queue_name: str
) -> None:
    """allkeys-lru: the worker logs an error and runs; CLI shows it; REQUIRE_NOEVICTION refuses."""
    args = ("--maxmemory-policy", "allkeys-lru")
    with RedisServer(tmp_path / "redis", extra_args=args) as server:
        env = {**worker_env, "STORAGE_JOBS_REDIS_URL": server.url}
        worker = WorkerProcess(env, tmp_path / "w1.log", name="w1").start()
        try:
            (event,) = [e for e in worker.events() if e.get("event") == "redis.eviction_policy"]
            assert (event["level"], event["policy"], event["source"]) == (
                "error",
                "allkeys-lru",
                "CONFIG GET",
            )
            (started,) = [e for e in worker.events() if e.get("event") == "worker.started"]
            assert started["eviction_policy"] == "allkeys-lru"

            queue = _cli(env, "queue", "--json")
            assert queue.returncode == 0, queue.stderr
            assert json.loads(queue.stdout)["eviction_policy"]["policy"] == "allkeys-lru"
            table = _cli(env, "queue")
            assert "allkeys-lru" in table.stdout and "warning:" in table.stdout
            health = _cli(env, "health")
            assert health.returncode == 0, health.stdout + health.stderr
            assert "warning:" in health.stdout and "allkeys-lru" in health.stdout
            strict = {**env, "STORAGE_JOBS_REQUIRE_NOEVICTION": "true"}
            refused = _cli(strict, "health", "--json")
            assert refused.returncode == 1
            assert json.loads(refused.stdout)["eviction_policy"]["safe"] is False
        finally:
            worker.stop()

        refusing = WorkerProcess(strict, tmp_path / "w2.log", name="w2", ready_event=None)
        refusing.start()
        assert refusing.proc is not None
        try:
            code = refusing.proc.wait(30)
        finally:
            refusing.stop()  # a worker that did not refuse must not outlive the test
        text = refusing.log_path.read_text()
        assert code == 2, text
        assert "STORAGE_JOBS_REQUIRE_NOEVICTION" in text and "allkeys-lru" in text
        assert not [e for e in refusing.events() if e.get("event") == "worker.started"]


async def test_noeviction_worker_starts_under_require_noeviction(
    tmp_path: Path, worker_env: dict[str, str]
) -> None:
    """The default policy passes the check: no error logged, the worker starts."""
    with RedisServer(tmp_path / "redis") as server:
        env = {
            **worker_env,
            "STORAGE_JOBS_REDIS_URL": server.url,
            "STORAGE_JOBS_REQUIRE_NOEVICTION": "true",
        }
        worker = WorkerProcess(env, tmp_path / "w.log", name="w").start()
        worker.stop()
    events = [e.get("event") for e in worker.events()]
    assert "worker.started" in events and "redis.eviction_policy" not in events


def _fill(client: redis.Redis) -> int:
    """Writes 16 KiB ballast keys until Redis refuses with OOM; returns how many.

    Then lowers ``maxmemory`` 256 KiB below what is used: at the limit, a buffer freed anywhere
    would let a small write through now and then, and the test wants Redis full until it says.
    """
    n = 0
    while True:
        try:
            client.set(f"ballast:{n}", b"b" * 16384)
        except redis.exceptions.OutOfMemoryError:
            break
        n += 1
    used = int(cast(dict[str, Any], client.info("memory"))["used_memory"])
    client.config_set("maxmemory", used - 256 * 1024)
    return n


async def test_full_redis_keeps_the_lease_retries_the_result_then_completes(
    tmp_path: Path,
    worker_env: dict[str, str],
    fault_proxy: FaultProxy,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
) -> None:
    """A job finishing into a full Redis: lease kept, no result reported, completes once freed."""
    with RedisServer(tmp_path / "redis", extra_args=("--maxmemory", "4mb")) as server:
        env = {
            **worker_env,
            "STORAGE_JOBS_REDIS_URL": server.url,
            "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
            "STORAGE_JOBS_LEASE_SECONDS": "4",
        }
        worker = WorkerProcess(env, tmp_path / "w.log", name="w").start()
        sync = redis.Redis(port=server.port)
        keys = QueueKeys(queue_name)
        settings = Settings(redis_url=server.url, queue_name=queue_name)
        try:
            # The upload is slow at S3, so Redis fills while it runs.
            fault_proxy.rules = FaultRules(latency_s=3.0, methods=frozenset({"PUT"}))
            async with StorageJobsClient(settings=settings) as jobs:
                handle = await jobs.enqueue(UploadJob(bucket=bucket, key="slow", data=b"x" * 10))
                deadline = time.monotonic() + 20
                while not sync.exists(keys.in_progress(handle.job_id)):
                    assert time.monotonic() < deadline, "job never started"
                    await asyncio.sleep(0.05)
                # Due while Redis is full: its claim (a lease write) is refused until memory frees.
                waiting = await jobs.enqueue(
                    UploadJob(bucket=bucket, key="waiting", data=b"w"), defer_by=2
                )
                assert _fill(sync) > 0
                with pytest.raises(QueueFullError):
                    await jobs.enqueue(UploadJob(bucket=bucket, key="refused", data=b"y"))

                # Three lease lengths: the result is refused, the lease renewed, no re-run.
                await asyncio.sleep(12)
                assert worker.running()
                assert sync.get(keys.in_progress(handle.job_id)) is not None, "lease lapsed"
                assert sync.get(keys.result(handle.job_id)) is None
                assert await handle.status() == "in_progress"
                events = worker.events()
                # The batched finish retries the refused write (``worker/_finisher.py``).
                refused = [e for e in events if e.get("event") == "result.write_retry"]
                assert len(refused) >= 2
                assert len([e for e in events if e.get("event") == "job.start"]) == 1
                assert [e for e in events if e.get("event") == "redis.full"], "no claim refused"

                # Memory frees: the stored result appears, and new work runs too.
                for start in range(0, 100_000, 1000):
                    if not sync.delete(*(f"ballast:{n}" for n in range(start, start + 1000))):
                        break
                sync.config_set("maxmemory", "4mb")
                fault_proxy.rules = FaultRules()
                assert (await handle.result(timeout=30)).size == 10
                after = await jobs.enqueue(UploadJob(bucket=bucket, key="after", data=b"zz"))
                assert (await after.result(timeout=30)).size == 2
                assert (await waiting.result(timeout=30)).size == 1
            assert await admin_storage.fetch_file(bucket=bucket, key="slow") == b"x" * 10
            starts = [e for e in worker.events() if e.get("event") == "job.start"]
            assert len(starts) == 3, "the refused job ran again"
            assert worker.running()
        finally:
            worker.stop()
            sync.close()
