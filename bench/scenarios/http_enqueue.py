"""The HTTP enqueue API (``storage-jobs dashboard``) vs the Python client, in the same run.

Both sides start from the same plain data (a dict of fields per job, what an application holds)
and end with every job queued, so each pays for validating its jobs once: the client when it
builds the models, the API when it reads the body. Batches: N ``CopyJob``s encoded as JSON and
posted to ``/api/v1/jobs:batch`` 1,000 at a time, one request after the other, against
``CopyJob(**fields)`` and ``StorageJobsClient.enqueue_many`` with the same 1,000-job batches.
Single jobs: the latency of one ``POST /api/v1/jobs`` against one ``client.enqueue`` (job built
before the clock on both sides), each awaited before the next; the difference is what HTTP adds.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import time
from typing import IO

import httpx
import orjson
from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack.ports import free_port
from storage_jobs.devstack.processes import spawn, stop_process_group
from storage_jobs.jobs import CopyJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ._base import Context, Scenario

__all__ = ["BATCH", "HttpEnqueue"]

BATCH = 1000
"""Jobs per request (and per ``enqueue_many`` call): the API's batch cap."""

SINGLES = 200
"""Single jobs timed one at a time on each side."""

TOKEN = secrets.token_urlsafe(24)


class HttpEnqueue(Scenario):
    """N jobs over HTTP in 1,000-job batches vs ``enqueue_many`` with the same batches."""

    name = "http_enqueue"
    rows = (
        Row(
            key="http_batches",
            title="HTTP enqueue of 1,000-job batches vs the Python client",
            unit="jobs/s",
            ours_label="POST /api/v1/jobs:batch, 1,000 jobs a request, from dicts of fields",
            baseline_label="CopyJob(**fields) and enqueue_many, the same 1,000-job batches",
            checks=(
                Check("ratio", ">=", 0.5, ">= 0.5x baseline"),
                Check("missing", "==", 0.0, "every job queued on both sides"),
            ),
        ),
        Row(
            key="http_single",
            title="one job: POST /api/v1/jobs vs client.enqueue (median latency)",
            unit="ms",
            ours_label="POST /api/v1/jobs, one job, awaited one at a time",
            baseline_label="StorageJobsClient.enqueue, awaited one at a time",
            checks=(Check("missing", "==", 0.0, "every job queued on both sides"),),
            higher_is_better=False,
        ),
    )

    def __init__(self) -> None:
        self.server: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None
        self.url = ""
        self.queue = ""

    @override
    async def setup(self, ctx: Context) -> None:
        # The dashboard serves the API in its own process, as in production: one server on one
        # queue for every run (Redis is flushed between sides).
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.queue = ctx.stack.queue("http")
        env = {
            **os.environ,
            "STORAGE_JOBS_REDIS_URL": ctx.stack.redis_url,
            "STORAGE_JOBS_QUEUE_NAME": self.queue,
            "STORAGE_JOBS_PRODUCER_TOKENS": f'{{"bench": "{TOKEN}"}}',
            "STORAGE_JOBS_MAX_PAYLOAD_BYTES": str(4 * 1024 * 1024),
            "STORAGE_JOBS_LOG_LEVEL": "WARNING",
        }
        self.log = (ctx.workdir / "http-enqueue-dashboard.log").open("wb")
        self.server = spawn(
            [sys.executable, "-m", "storage_jobs", "dashboard", "--port", str(port)],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{self.url}/api/v1/openapi.json")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("storage-jobs dashboard did not start")

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.server is not None:
            stop_process_group(self.server)
            self.server = None
        if self.log is not None:
            self.log.close()
            self.log = None

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        n = ctx.sizes.enqueues
        fields = [
            {
                "kind": "copy",
                "src_bucket": "bench-src",
                "src_key": f"src/{i}",
                "dst_key": f"dst/{i}",
            }
            for i in range(n)
        ]
        batches = [fields[i : i + BATCH] for i in range(0, n, BATCH)]
        jobs = [CopyJob(**f) for f in fields[:SINGLES]]
        settings = Settings(redis_url=ctx.stack.redis_url, queue_name=self.queue)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        rates: dict[str, float] = {}
        latency: dict[str, float] = {}
        missing = {"batches": 0.0, "single": 0.0}
        async with (
            StorageJobsClient(settings=settings) as client,
            httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60) as http,
        ):
            await http.get("/api/v1/jobs/warm-up")  # a connection and the server's Redis
            # Rotate which side goes first, so neither always meets the colder Redis.
            for side in ("http", "client") if run % 2 == 0 else ("client", "http"):
                ctx.stack.flush_redis()
                started = time.perf_counter()
                if side == "http":
                    for batch in batches:
                        body = orjson.dumps({"jobs": batch})
                        answer = await http.post(
                            "/api/v1/jobs:batch",
                            content=body,
                            headers={"Content-Type": "application/json"},
                        )
                        answer.raise_for_status()
                else:
                    for batch in batches:
                        await client.enqueue_many([CopyJob(**f) for f in batch])
                rates[side] = n / (time.perf_counter() - started)
                missing["batches"] += n - await client.redis.zcard(self.queue)
            for side in ("http", "client") if run % 2 == 0 else ("client", "http"):
                ctx.stack.flush_redis()
                times = []
                for job in jobs:
                    started = time.perf_counter()
                    if side == "http":
                        answer = await http.post("/api/v1/jobs", content=job.model_dump_json())
                        answer.raise_for_status()
                    else:
                        await client.enqueue(job)
                    times.append(time.perf_counter() - started)
                latency[side] = statistics.median(times) * 1000
                missing["single"] += SINGLES - await client.redis.zcard(self.queue)
        ctx.stack.flush_redis()
        return {
            "http_batches": Sample(
                rates["http"], rates["client"], {"missing": missing["batches"], "jobs": float(n)}
            ),
            "http_single": Sample(
                latency["http"],
                latency["client"],
                {"missing": missing["single"], "added_ms": latency["http"] - latency["client"]},
            ),
        }
