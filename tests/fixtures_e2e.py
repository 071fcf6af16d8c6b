"""Fixtures for end-to-end tests: real Redis, real SeaweedFS, workers (``tests/workers.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient, StorageConfig
from tests.fixtures_redis import TestRedis
from tests.workers import InProcessWorker, WorkerProcess, cli_path, running_worker

E2E_DB = 11


@pytest.fixture(scope="session")
def e2e_redis_url(redis_server: TestRedis) -> str:
    """Database 11 of the session's Redis, for these tests.

    Never flushed: test sessions may run side by side on a shared server. Every test has its own
    queue and every job a unique id, so they cannot meet; what they leave expires with the result
    TTL.
    """
    return redis_server.url(E2E_DB)


LAYOUTS = ("one", "sharded", "cluster", "valkey")
"""Where a test's queue lives: one server unsharded (the default), three shards on that server,
three shards on the session's 3-master Redis Cluster, or on a 3-master Valkey cluster
(``tests/fixtures_cluster.py``)."""

on_every_layout = pytest.mark.parametrize(
    "layout",
    [*LAYOUTS[:3], pytest.param("valkey", marks=pytest.mark.slow)],
    indirect=True,
)
"""Runs an end-to-end test once per ``LAYOUTS``: the same test, parametrized, not copied. The
Valkey run goes with the slow tests (``uv run pytest -m slow``): same cases, a second server."""


@pytest.fixture
def layout(request: pytest.FixtureRequest) -> str:
    """This test's queue layout (``LAYOUTS``); ``one`` unless the test is ``on_every_layout``."""
    return str(getattr(request, "param", "one"))


@pytest.fixture
def queue_redis_url(layout: str, e2e_redis_url: str, request: pytest.FixtureRequest) -> str:
    """The Redis URL of this test's queue: the cluster's for the ``cluster`` layout."""
    if layout in ("cluster", "valkey"):
        return str(request.getfixturevalue(f"{layout.replace('cluster', 'redis')}_cluster").url)
    return e2e_redis_url


@pytest.fixture
def queue_shards(layout: str) -> int:
    """The shard count of this test's queue."""
    return 1 if layout == "one" else 3


@pytest.fixture
def queue_name() -> str:
    """A queue of this test's own."""
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> str:
    """A fresh bucket on SeaweedFS."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    seaweedfs.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def worker_env(
    seaweedfs: SeaweedFS, queue_redis_url: str, queue_shards: int, queue_name: str
) -> dict[str, str]:
    """Environment for a worker on this test's queue, talking to SeaweedFS directly."""
    return {
        "STORAGE_JOBS_REDIS_URL": queue_redis_url,
        "STORAGE_JOBS_QUEUE_NAME": queue_name,
        "STORAGE_JOBS_QUEUE_SHARDS": str(queue_shards),
        "STORAGE_JOBS_S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "STORAGE_JOBS_RETRY_BASE_DELAY": "0.1",
        "STORAGE_JOBS_RETRY_MAX_DELAY": "1",
        "STORAGE_JOBS_LEASE_SECONDS": "3",
        "STORAGE_JOBS_HEALTH_CHECK_INTERVAL": "1",
        # An idle worker blocks this long on the wake list at most: a missed wake costs a second.
        "STORAGE_JOBS_IDLE_WAIT_MAX": "1",
    }


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a worker started with ``env`` (``STORAGE_JOBS_*`` variables) would read."""
    # As pydantic-settings reads the environment: a value of a mapping or list field is JSON.
    return Settings.model_validate(
        {
            name.removeprefix("STORAGE_JOBS_").lower(): json.loads(value)
            if value[:1] in "{["
            else value
            for name, value in env.items()
        }
    )


@pytest.fixture
def worker_settings(worker_env: dict[str, str]) -> Settings:
    """Settings of an in-process worker (``running_worker``): those ``worker_env`` gives one."""
    return settings_of(worker_env)


@pytest.fixture
async def start_in_process(
    worker_env: dict[str, str], seaweedfs: SeaweedFS
) -> AsyncIterator[Callable[..., Awaitable[InProcessWorker]]]:
    """Starts workers in the test's event loop (``running_worker``); stops them after.

    Called as ``start_worker`` is, with environment overrides:
    ``await start_in_process(STORAGE_JOBS_MAX_JOBS="2")``.
    """
    async with contextlib.AsyncExitStack() as stack:
        started: list[InProcessWorker] = []

        async def start(**env: str) -> InProcessWorker:
            worker = await stack.enter_async_context(
                running_worker(settings_of({**worker_env, **env}))
            )
            started.append(worker)
            return worker

        yield start
    for worker in started:
        assert seaweedfs.secret_key not in repr(worker.log), "secret key in a worker's log"


@pytest.fixture
def start_worker(
    tmp_path: Path, worker_env: dict[str, str], seaweedfs: SeaweedFS
) -> Iterator[Callable[..., WorkerProcess]]:
    """Starts ``storage-jobs worker`` subprocesses; stops them and checks their logs after."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        name = f"worker{len(started) + 1}"
        proc = WorkerProcess({**worker_env, **env}, tmp_path / f"{name}.log", name=name)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
    for proc in started:
        text = proc.log_path.read_text(errors="replace")
        assert seaweedfs.secret_key not in text, f"secret key in {proc.name}'s log"


@pytest.fixture
def settings(
    queue_redis_url: str, queue_shards: int, queue_name: str, seaweedfs: SeaweedFS
) -> Settings:
    """Producer-side settings for this test's queue."""
    return Settings(redis_url=queue_redis_url, queue_name=queue_name, queue_shards=queue_shards)


@pytest.fixture
async def jobs(settings: Settings) -> AsyncIterator[StorageJobsClient]:
    """A connected producer client."""
    async with StorageJobsClient(settings=settings) as client:
        yield client


@pytest.fixture
async def admin_storage(seaweedfs: SeaweedFS) -> AsyncIterator[StorageClient]:
    """A storage client with admin rights, for setting up and checking objects."""
    config = StorageConfig(
        endpoint_url=seaweedfs.endpoint_url,
        access_key_id=seaweedfs.access_key,
        secret_access_key=seaweedfs.secret_key,
        max_pool_connections=64,
    )
    async with StorageClient(config) as client:
        yield client


async def put_many(
    storage: StorageClient, bucket: str, keys: list[str], data: bytes = b"x"
) -> None:
    """Uploads small objects through S3, 64 at a time (``fill`` is faster for setup)."""
    slots = asyncio.Semaphore(64)

    async def put(key: str) -> None:
        async with slots:
            await storage.upload_file(bucket=bucket, key=key, data=data)

    await asyncio.gather(*(put(k) for k in keys))


async def fill(seaweedfs: SeaweedFS, bucket: str, keys: Sequence[str], data: bytes = b"x") -> None:
    """Creates objects through SeaweedFS's filer HTTP API, 64 at a time: setup only.

    About 3x faster than S3 PUTs here (no SigV4, a lighter server path). S3 buckets are filer
    directories (``/buckets/<bucket>``), so these are ordinary S3 objects afterwards, with the
    MD5 of ``data`` as their ETag.
    """
    base = f"http://127.0.0.1:{seaweedfs.ports['filer.port']}/buckets/{bucket}/"
    slots = asyncio.Semaphore(64)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def put(key: str) -> None:
            async with slots, session.put(base + quote(key), data=data) as answer:
                if answer.status >= 300:
                    raise RuntimeError(f"filer PUT {key}: {answer.status} {await answer.text()}")

        for start in range(0, len(keys), 5000):
            await asyncio.gather(*(put(k) for k in keys[start : start + 5000]))


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    """Polls an async predicate until it is true."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def keys_left(storage: StorageClient, bucket: str, prefix: str) -> set[str]:
    """Every key under a prefix."""
    left: set[str] = set()
    async for page in storage.iter_pages(bucket=bucket, prefix=prefix):
        left.update(o.key for o in page)
    return left


def attempts_given_back(worker: InProcessWorker, job_id: str, event: str) -> bool:
    """Whether each run of a job that ended in ``event`` gave its attempt back.

    ``event`` is ``job.paused`` or ``job.waiting``; only the job's other runs (a crash, a lost
    lease) may have raised the count.
    """
    attempts = [e["attempt"] for e in worker.events("job.start", job_id=job_id)]
    handed_on = len(worker.events(event, job_id=job_id))
    return bool(attempts) and attempts[-1] == attempts[0] + len(attempts) - 1 - handed_on


async def put_multipart(storage: StorageClient, bucket: str, key: str, data: bytes) -> None:
    """Uploads ``data`` as a 5 MiB-part multipart object (its ETag is no MD5)."""
    config = storage.config.model_copy(
        update={"multipart_threshold": 5 * 1024 * 1024, "multipart_chunksize": 5 * 1024 * 1024}
    )
    async with StorageClient(config) as client:
        info = await client.upload_stream(bucket=bucket, key=key, stream=io.BytesIO(data))
    assert info.is_multipart


async def report_of(storage: StorageClient, result: Any) -> list[dict[str, Any]]:
    """The JSON Lines completion report of a prefix job's result."""
    assert result.report_bucket and result.report_key
    raw = await storage.fetch_file(bucket=result.report_bucket, key=result.report_key)
    return [json.loads(line) for line in raw.splitlines()]


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``storage-jobs ARGS`` as a user would, on this test's queue.

    Asynchronously: an in-process worker of the test keeps running while the command waits.
    """
    proc = await asyncio.create_subprocess_exec(
        cli_path(),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())
