"""Tracing off, or the ``otel`` extra absent: a job runs and nothing of OpenTelemetry loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

PROBE = """
import asyncio, json, os, sys

if os.environ.get("BLOCK_OTEL") == "1":  # as if the extra were not installed
    class NoOtel:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "opentelemetry":
                raise ImportError(f"No module named {name!r}")
            return None
    sys.meta_path.insert(0, NoOtel())

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings
from storage_jobs.worker import build_worker


async def main():
    settings = Settings()
    worker = build_worker(settings)
    task = asyncio.create_task(worker.main())
    async with StorageJobsClient(settings=settings) as jobs:
        job = UploadJob(bucket=os.environ["PROBE_BUCKET"], key="probe.txt", data=b"x")
        await (await jobs.enqueue(job)).result(timeout=60)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    await worker.close()


asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")))
"""


def probe(worker_env: dict[str, str], bucket: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Runs one upload job (a worker and a producer in one process) with ``env`` set."""
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **worker_env, "PROBE_BUCKET": bucket, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def loaded(run: subprocess.CompletedProcess[str]) -> list[str]:
    """The OpenTelemetry modules the probe had loaded once its job was done."""
    assert run.returncode == 0, run.stderr[-2000:]
    return list(json.loads(run.stdout.strip().splitlines()[-1]))


def test_tracing_off_loads_nothing(worker_env: dict[str, str], bucket: str) -> None:
    """Off by default: a job produced and run loads no OpenTelemetry module; on, it does."""
    assert loaded(probe(worker_env, bucket)) == []
    assert "opentelemetry.trace" in loaded(probe(worker_env, bucket, STORAGE_JOBS_TRACING="true"))


def test_without_the_extra(worker_env: dict[str, str], bucket: str) -> None:
    """Without OpenTelemetry installed jobs run untraced; asking for tracing is a clear error."""
    assert loaded(probe(worker_env, bucket, BLOCK_OTEL="1")) == []
    refused = probe(worker_env, bucket, BLOCK_OTEL="1", STORAGE_JOBS_TRACING="true")
    assert refused.returncode != 0
    assert "TracingUnavailableError" in refused.stderr
    assert "pip install 'storage-jobs[otel]'" in refused.stderr
