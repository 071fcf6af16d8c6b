"""The servers a benchmark run needs: its own SeaweedFS, the local Redis (db 12), workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import redis as sync_redis
from redis.asyncio import Redis

from storage_jobs.devstack import SeaweedFS
from storage_jobs.storage import StorageClient, StorageConfig
from storage_jobs.worker import decode

from .workers import WorkerProcess, cpu_seconds

__all__ = ["REDIS_URL", "Stack", "fill_via_filer", "put_many", "wait_for_results"]

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
"""The local Redis, database 12: the only one the benchmarks write to (and flush).

``BENCH_REDIS_URL`` points them elsewhere: the smoke test gives them a redis-server of its own,
so it flushes nothing another run on this machine is using.
"""


class Stack:
    """SeaweedFS started here, Redis db 12 flushed, and worker subprocesses on demand."""

    def __init__(self, workdir: Path, *, profile_dir: Path | None = None) -> None:
        self.workdir = workdir
        self.profile_dir = profile_dir
        self.redis_url = REDIS_URL
        self.seaweedfs = SeaweedFS(workdir / "seaweedfs")
        self.workers: list[WorkerProcess] = []
        self._buckets: set[str] = set()

    def start(self) -> None:
        """Starts SeaweedFS and flushes Redis db 12."""
        sync_redis.Redis.from_url(self.redis_url).flushdb()
        self.seaweedfs.start()

    def stop(self) -> None:
        """Stops every worker still running, then SeaweedFS."""
        for worker in self.workers:
            worker.stop()
        self.workers.clear()
        self.seaweedfs.stop()

    async def settle(self, *, idle_share: float = 0.05, sample_s: float = 0.2) -> float:
        """Waits until SeaweedFS is idle (below ``idle_share`` of a CPU), 10 s at most.

        A side that starts while SeaweedFS still digests the previous side's writes (its
        filer's metadata, volume growth) pays for them: every side starts from an idle server
        and a collected heap in this process. Returns the seconds waited.
        """
        gc.collect()
        pid = self.seaweedfs.pid
        started = time.monotonic()
        while pid is not None and time.monotonic() - started < 10.0:
            before = cpu_seconds(pid)
            await asyncio.sleep(sample_s)
            if cpu_seconds(pid) - before < idle_share * sample_s:
                break
        return time.monotonic() - started

    def flush_redis(self) -> None:
        """Flushes db 12 (and only it)."""
        sync_redis.Redis.from_url(self.redis_url).flushdb()

    @staticmethod
    def queue(name: str) -> str:
        """A fresh queue name for one scenario (run)."""
        return f"bench-{name}-{uuid.uuid4().hex[:8]}"

    def bucket(self, name: str) -> str:
        """Creates bucket ``bench-<name>`` if needed and returns its name."""
        bucket = f"bench-{name}"
        if bucket not in self._buckets:
            client = self.seaweedfs.client()
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=bucket)
            self._buckets.add(bucket)
        return bucket

    def storage_config(self, *, pool: int, endpoint_url: str | None = None) -> StorageConfig:
        """Config for a direct (baseline) client: admin keys, ``pool`` connections."""
        return StorageConfig(
            endpoint_url=endpoint_url or self.seaweedfs.endpoint_url,
            access_key_id=self.seaweedfs.access_key,
            secret_access_key=self.seaweedfs.secret_key,
            max_pool_connections=pool,
            use_ssl=False,
        )

    def storage(self, *, pool: int, endpoint_url: str | None = None) -> StorageClient:
        """A direct storage client (use as ``async with``)."""
        return StorageClient(self.storage_config(pool=pool, endpoint_url=endpoint_url))

    def worker_env(
        self,
        queue: str,
        *,
        endpoint_url: str | None = None,
        redis_url: str | None = None,
        **extra: str,
    ) -> dict[str, str]:
        """A worker's environment: production defaults but for the queue, servers and ``extra``."""
        return {
            "STORAGE_JOBS_REDIS_URL": redis_url or self.redis_url,
            "STORAGE_JOBS_QUEUE_NAME": queue,
            "STORAGE_JOBS_S3_ENDPOINT_URL": endpoint_url or self.seaweedfs.endpoint_url,
            "STORAGE_JOBS_S3_ACCESS_KEY_ID": self.seaweedfs.access_key,
            "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": self.seaweedfs.secret_key,
            "STORAGE_JOBS_RETRY_BASE_DELAY": "0.1",
            "STORAGE_JOBS_RETRY_MAX_DELAY": "1",
            **extra,
        }

    async def start_worker(
        self, env: dict[str, str], name: str, *, argv: list[str] | None = None, **kw: Any
    ) -> WorkerProcess:
        """Starts a worker subprocess (profiled when the stack profiles) and waits for it."""
        if self.profile_dir is not None and argv is None:
            # Timed by CPU, not the wall: see bench/cpu_profile.py.
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            profile = self.profile_dir / f"{name}-{uuid.uuid4().hex[:6]}.prof"
            argv = ["-m", "bench.cpu_profile", str(profile), "-m", "storage_jobs", "worker"]
        log = self.workdir / "logs" / f"{name}-{uuid.uuid4().hex[:6]}.log"
        proc = WorkerProcess(env, log, name=name, argv=argv, **kw)
        self.workers.append(proc)
        # Start-up on a loaded shared machine can take over 30 s (profiled: every import timed).
        await asyncio.to_thread(proc.start, wait=120.0 if self.profile_dir is None else 180.0)
        return proc

    async def stop_worker(self, proc: WorkerProcess) -> None:
        """Stops one worker."""
        await asyncio.to_thread(proc.stop)
        if proc in self.workers:
            self.workers.remove(proc)

    def vacuum(self) -> None:
        """Asks SeaweedFS to reclaim the space of deleted objects (large uploads fill volumes)."""
        port = self.seaweedfs.ports["master.port"]
        url = f"http://127.0.0.1:{port}/vol/vacuum?garbageThreshold=0.01"
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=300).read()


async def put_many(
    storage: StorageClient,
    bucket: str,
    keys: Sequence[str],
    data: bytes = b"",
    *,
    concurrency: int = 64,
) -> None:
    """Creates objects fast (setup, not measured)."""
    slots = asyncio.Semaphore(concurrency)
    s3 = storage.s3

    async def put(key: str) -> None:
        async with slots:
            await s3.put_object(Bucket=bucket, Key=key, Body=data)

    for start in range(0, len(keys), 5000):
        await asyncio.gather(*(put(k) for k in keys[start : start + 5000]))


async def fill_via_filer(
    stack: Stack, bucket: str, keys: Sequence[str], data: bytes = b"", *, concurrency: int = 64
) -> None:
    """Creates objects through SeaweedFS's filer HTTP API: setup only, ~8x faster than S3 PUTs.

    S3 buckets are filer directories (``/buckets/<bucket>``), so the objects are ordinary S3
    objects afterwards (listed, copied and deleted through S3 like any other).
    """
    port = stack.seaweedfs.ports["filer.port"]
    base = f"http://127.0.0.1:{port}/buckets/{bucket}/"
    slots = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def put(key: str) -> None:
            async with slots, session.put(base + quote(key), data=data) as answer:
                if answer.status >= 300:
                    raise RuntimeError(f"filer PUT {key}: {answer.status} {await answer.text()}")

        for start in range(0, len(keys), 5000):
            await asyncio.gather(*(put(k) for k in keys[start : start + 5000]))


async def wait_for_results(
    redis: Redis,
    queue: str,
    job_ids: Sequence[str],
    *,
    timeout: float,
    interval: float = 0.02,
) -> float:
    """Waits until every job has a result; returns the time.perf_counter() it was seen.

    Polls ``EXISTS`` over the result keys of the oldest unfinished chunk of 100 ids, and on
    through the next ones while each is complete: jobs finish roughly in order, so a poll reads
    a chunk or two, not every key (at 3,000 jobs that was 3,000 keys every 20 ms, CPU the
    polled side paid here and in Redis and the direct side did not). A chunk left behind by a
    straggler holds the poll there until it is done; the end is still seen within a poll.

    Raises:
        RuntimeError: If a job was dead-lettered or a result says it failed.
        TimeoutError: If not all finished in time.
    """
    chunks = [list(job_ids[i : i + 100]) for i in range(0, len(job_ids), 100)]
    dead_key = f"storage-jobs:{queue}:dead:data"
    deadline = time.monotonic() + timeout
    while chunks:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.exists(*(f"arq:result:{i}" for i in chunks[0]))
            pipe.hlen(dead_key)
            count, dead = await pipe.execute()
        if dead:
            raise RuntimeError(f"{dead} job(s) of queue {queue} were dead-lettered")
        if count == len(chunks[0]):
            chunks.pop(0)
            continue  # the next chunk, at once
        if time.monotonic() > deadline:
            left = sum(len(c) for c in chunks)
            raise TimeoutError(f"{left} of {len(job_ids)} jobs unfinished after {timeout} s")
        await asyncio.sleep(interval)
    done = time.perf_counter()
    await check_results(redis, job_ids)
    return done


async def check_results(redis: Redis, job_ids: Sequence[str]) -> None:
    """Raises RuntimeError unless every job's stored result is a success."""
    for start in range(0, len(job_ids), 1000):
        chunk = job_ids[start : start + 1000]
        raws = await redis.mget([f"arq:result:{i}" for i in chunk])
        for job_id, raw in zip(chunk, raws, strict=True):
            if raw is None or not decode(raw).get("s"):
                detail = decode(raw).get("r") if raw is not None else "no result"
                raise RuntimeError(f"job {job_id} did not succeed: {detail}")
