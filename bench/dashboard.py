"""``python -m bench.dashboard``: dashboard latency, 1,000,000 queued jobs, 100,000 dead letters.

Fills a private ``redis-server`` (never the shared one: a million jobs is ~300 MiB), serves the
dashboard with uvicorn on a loopback port, and times each page and API answer over HTTP:
``--requests`` timed requests after three warm-ups, reported as p50 / p95 / max in ms. The
issue's target is <= 200 ms for the overview and the first page of each list. 10 % of the jobs
are deferred and 16 running (leased, scored at their lease's deadline, as the claim leaves
them); the run exits 1 unless the overview counts exactly those.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from redis.asyncio import Redis

from storage_jobs.dashboard import create_app
from storage_jobs.devstack import RedisServer
from storage_jobs.devstack.ports import free_port
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import DeadLetter, Heartbeat, QueueKeys, build_envelope, write_heartbeat
from storage_jobs.settings import Settings

HERE = Path(__file__).resolve().parent
QUEUE = "bench-dashboard"
TARGET_MS = 200.0
PIPELINE = 10_000
RUNNING = 16


def running_ids(jobs: int) -> list[str]:
    """The 16 oldest ready jobs: the ones ``fill`` marks running."""
    return [f"job-{i:07d}" for i in range(min(jobs, 20)) if i % 10 != 0][:RUNNING]


def expected_counts(jobs: int) -> dict[str, int]:
    """The overview's counts of what ``fill`` wrote."""
    deferred = len(range(0, jobs, 10))
    running = len(running_ids(jobs))
    return {"ready": jobs - deferred - running, "in_progress": running, "deferred": deferred}


async def fill(redis: Redis, jobs: int, dead: int) -> None:
    """Queues ``jobs`` jobs (10 % deferred), ``dead`` dead letters, finished jobs, workers."""
    keys = QueueKeys(QUEUE)
    now_ms = int(time.time() * 1000)
    payload = UploadJob(bucket="media", key="k", data=b"x" * 64).model_dump_json()
    envelope = build_envelope("storage_jobs.upload", payload, now_ms)
    for start in range(0, jobs, PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            members = {}
            for i in range(start, min(jobs, start + PIPELINE)):
                job_id = f"job-{i:07d}"
                deferred = i % 10 == 0
                members[job_id] = now_ms + 3_600_000 if deferred else now_ms - 60_000 + i // 100
                pipe.set(keys.job(job_id), envelope)
            pipe.zadd(QUEUE, members)
            await pipe.execute()
    # 16 running jobs as the claim leaves them: leased, scored at their lease's deadline.
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in running_ids(jobs):
            pipe.zadd(QUEUE, {job_id: now_ms + 30_000})
            pipe.set(keys.in_progress(job_id), b"bench-worker")
        await pipe.execute()
    letter = DeadLetter(
        job_id="x",
        function="storage_jobs.copy",
        payload=payload,
        error_type="NotFound",
        code="NoSuchKey",
        message="the source object does not exist",
        attempts=1,
        failed_at=time.time(),
    )
    for start in range(0, dead, PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            ids = [f"dead-{i:07d}" for i in range(start, min(dead, start + PIPELINE))]
            for job_id in ids:
                pipe.hset(
                    keys.dead_data,
                    job_id,
                    letter.model_copy(update={"job_id": job_id}).model_dump_json(),
                )
            pipe.zadd(keys.dead_index, {job_id: time.time() - n for n, job_id in enumerate(ids)})
            await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.finished("complete"), {f"done-{i}": time.time() - i for i in range(10_000)})
        await pipe.execute()
    for n in range(4):
        beat = Heartbeat(
            worker_id=f"bench-{n}",
            host="bench",
            pid=n,
            heartbeat_at=time.time(),
            jobs_ongoing=4,
            max_jobs=4,
            version="bench",
        )
        await write_heartbeat(redis, QUEUE, beat, ttl=3600)


class Server:
    """The dashboard under uvicorn in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


PATHS = [
    "/",
    "/api/overview",
    "/jobs",
    "/api/jobs?status=queued",
    "/jobs?status=deferred",
    "/jobs?status=complete",
    "/jobs?status=queued&kind=upload",
    "/jobs/{middle_job}",
    "/dead-letters",
    "/api/dead-letters",
    "/dead-letters/{middle_dead}",
    "/migrations",
    "/workers",
]


async def overview_counts(base: str) -> dict[str, int]:
    """The whole queue's ready, in progress and deferred counts, as the overview answers them."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        answer = (await http.get("/api/overview")).raise_for_status().json()
    counts = answer["queues"][0]["counts"]
    return {name: int(counts[name]) for name in ("ready", "in_progress", "deferred")}


async def measure(base: str, requests: int, jobs: int, dead: int) -> dict[str, dict[str, float]]:
    """Times each path: ``requests`` sequential GETs after three warm-ups."""
    results: dict[str, dict[str, float]] = {}
    names = {"middle_job": f"job-{jobs // 2 + 1:07d}", "middle_dead": f"dead-{dead // 2:07d}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for template in PATHS:
            path = template.format(**names)
            for _ in range(3):
                (await http.get(path)).raise_for_status()
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                (await http.get(path)).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            results[template] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                "max_ms": round(times[-1], 1),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    """Fills, serves, measures, prints a table and writes ``dashboard-results.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--dead", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "dashboard-results.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir:
        redis_server = RedisServer(Path(workdir))
        redis_server.start()
        try:
            settings = Settings(redis_url=redis_server.url, queue_name=QUEUE)

            async def prepare() -> None:
                redis: Redis = Redis.from_url(redis_server.url)
                started = time.monotonic()
                await fill(redis, args.jobs, args.dead)
                print(
                    f"filled {args.jobs:,} jobs, {args.dead:,} dead letters in "
                    f"{time.monotonic() - started:.0f} s"
                )
                await redis.aclose()

            asyncio.run(prepare())
            with Server(settings) as base:
                counts = asyncio.run(overview_counts(base))
                results = asyncio.run(measure(base, args.requests, args.jobs, args.dead))
        finally:
            redis_server.stop()
    report: dict[str, Any] = {
        "jobs": args.jobs,
        "dead_letters": args.dead,
        "requests": args.requests,
        "target_ms": TARGET_MS,
        "overview_counts": counts,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "paths": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("| path | p50 ms | p95 ms | max ms |\n|---|---|---|---|")
    for path, row in results.items():
        print(f"| `{path}` | {row['p50_ms']} | {row['p95_ms']} | {row['max_ms']} |")
    slow = [p for p, r in results.items() if r["p50_ms"] > TARGET_MS]
    print(f"wrote {args.out}; over {TARGET_MS:.0f} ms at p50: {', '.join(slow) or 'none'}")
    # The numbers must be right too: a running job is in progress, never deferred.
    expected = expected_counts(args.jobs)
    print(f"overview counts {counts}, expected {expected}")
    return 0 if counts == expected else 1


if __name__ == "__main__":
    sys.exit(main())
