"""Chaos run: mixed jobs under S3 faults, SIGKILLed workers and killed Redis connections.

``STORAGE_JOBS_CHAOS_SIZE=small`` (default, CI) or ``full`` (thousands of jobs);
``STORAGE_JOBS_CHAOS_REPORT=<file>`` writes the run's report as JSON. Assertions are on
correctness only: every job ends once, with the right outcome and the right bytes.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, RedisServer, SeaweedFS
from storage_jobs.jobs import (
    CopyJob,
    CopyResult,
    DeleteJob,
    DeletePrefixJob,
    DeletePrefixResult,
    DeleteResult,
    JobModel,
    MigrateJob,
    MigrateResult,
    UploadJob,
    UploadResult,
)
from storage_jobs.queue import DeadLetterStore
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.chaos._harness import (
    SIZES,
    TEST_CLIENT_NAME,
    ChaosSize,
    Monkey,
    content_for,
    event_counts,
    log_events,
    wait_for_results,
    write_report,
)
from tests.fixtures_e2e import fill
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.slow]

SIZE_NAME = os.environ.get("STORAGE_JOBS_CHAOS_SIZE", "small")
SEED = int(os.environ.get("STORAGE_JOBS_CHAOS_SEED", "6"))
# The whole test: the wait for results, plus setup and checks (pytest's default is 300 s).
TIMEOUT = SIZES[SIZE_NAME].timeout + 900 if SIZE_NAME in SIZES else 300


@pytest.fixture
def size() -> ChaosSize:
    """The run's size from ``STORAGE_JOBS_CHAOS_SIZE``."""
    if SIZE_NAME not in SIZES:
        raise pytest.UsageError(f"STORAGE_JOBS_CHAOS_SIZE must be one of {sorted(SIZES)}")
    return SIZES[SIZE_NAME]


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server with an AOF: CLIENT KILL there disturbs nobody else."""
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
        yield server


@pytest.fixture
async def test_redis(chaos_redis: RedisServer) -> AsyncIterator[Redis]:
    """The test's own connection, named so the monkey spares it."""
    client = Redis.from_url(chaos_redis.url, client_name=TEST_CLIENT_NAME)
    yield client
    await client.aclose()


@pytest.fixture
def chaos_proxy(seaweedfs: SeaweedFS) -> Iterator[FaultProxy]:
    """A FaultProxy with admin keys (so it can re-sign DeleteObjects with keys removed)."""
    proxy = FaultProxy(
        seaweedfs.endpoint_url, credentials=(seaweedfs.access_key, seaweedfs.secret_key)
    )
    proxy.start_in_thread()
    try:
        yield proxy
    finally:
        proxy.stop_thread()


@pytest.mark.timeout(TIMEOUT)
async def test_chaos_run(
    size: ChaosSize,
    chaos_redis: RedisServer,
    test_redis: Redis,
    chaos_proxy: FaultProxy,
    seaweedfs: SeaweedFS,
    admin_storage: StorageClient,
    tmp_path: Path,
) -> None:
    """Mixed jobs under S3 faults and kills: every job ends once, right bytes, nothing stuck."""
    started = time.monotonic()
    rng = random.Random(SEED)
    tag = uuid.uuid4().hex[:8]
    bucket, dst_bucket = f"chaos-{tag}", f"chaos-{tag}-dst"
    s3 = seaweedfs.client()
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=dst_bucket)
    queue = f"chaos-{tag}"

    # -- objects the jobs work on, written directly (no faults) ---------------------------------
    delete_sets: list[list[str]] = []
    for j, count in enumerate(size.delete_jobs):
        delete_sets.append([f"del/{j:03d}/{k:05d}" for k in range(count)])
    denied = [f"deny/{n:03d}" for n in range(size.denied_keys)]
    # Denied keys ride along in two delete jobs: one of them mixed in, the rest in a job alone.
    delete_sets[-1] = [*delete_sets[-1][:-1], denied[0]]
    delete_sets.append(denied[1:])
    mig_keys = [f"mig/{i:05d}" for i in range(size.migrate_objects)]
    dp_keys = [f"dp/{i:05d}" for i in range(size.prefix_objects)]
    plain = [k for keys in delete_sets for k in keys if k not in denied]
    await fill(seaweedfs, bucket, plain + denied + dp_keys)
    slots = asyncio.Semaphore(32)

    async def put_content(key: str) -> None:
        async with slots:
            await admin_storage.upload_file(bucket=bucket, key=key, data=content_for(key))

    await asyncio.gather(*(put_content(k) for k in mig_keys))
    setup_s = time.monotonic() - started

    # -- faults and workers ---------------------------------------------------------------------
    chaos_proxy.rules = FaultRules(
        seed=SEED,
        slowdown_rate=0.03,
        internal_error_rate=0.02,
        reset_rate=0.01,
        latency_s=size.latency_s,
        delete_error_rate=0.05,
        delete_error_codes=("InternalError",),
        delete_errors=dict.fromkeys(denied, "AccessDenied"),
    )
    env = {
        "STORAGE_JOBS_REDIS_URL": chaos_redis.url,
        "STORAGE_JOBS_QUEUE_NAME": queue,
        "STORAGE_JOBS_S3_ENDPOINT_URL": chaos_proxy.url,
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": seaweedfs.access_key,
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "STORAGE_JOBS_LEASE_SECONDS": "5",
        "STORAGE_JOBS_MAX_TRIES": "8",
        "STORAGE_JOBS_DELETE_MAX_ATTEMPTS": "8",
        "STORAGE_JOBS_RETRY_BASE_DELAY": "0.1",
        "STORAGE_JOBS_RETRY_MAX_DELAY": "2",
        "STORAGE_JOBS_HEALTH_CHECK_INTERVAL": "1",
        "STORAGE_JOBS_SHUTDOWN_GRACE": "5",
        "STORAGE_JOBS_MAX_JOBS": "3",
        # One request per S3 call: injected faults reach the job-level retries, not only botocore's.
        "STORAGE_JOBS_S3_MAX_ATTEMPTS": "1",
    }
    incarnations = [0] * size.workers

    def spawn(slot: int) -> WorkerProcess:
        incarnations[slot] += 1
        name = f"worker{slot}-{incarnations[slot]}"
        return WorkerProcess(env, tmp_path / f"{name}.log", name=name).start(wait=60)

    workers = [spawn(slot) for slot in range(size.workers)]
    monkey = Monkey(
        workers=workers,
        spawn=spawn,
        redis=test_redis,
        rng=rng,
        kill_every=size.kill_every,
        redis_kill_every=size.redis_kill_every,
    )
    settings = Settings(redis_url=chaos_redis.url, queue_name=queue)
    jobs = StorageJobsClient.on_connection(test_redis, settings)

    # -- the workload ---------------------------------------------------------------------------
    planned: dict[str, JobModel] = {}
    for i in range(size.uploads):
        key = f"up/{i:05d}"
        planned[f"up-{i}"] = UploadJob(bucket=bucket, key=key, data=content_for(key))
    for j, keys in enumerate(delete_sets):
        planned[f"del-{j}"] = DeleteJob(bucket=bucket, keys=keys)
    planned["migrate"] = MigrateJob(
        src_bucket=bucket,
        src_prefix="mig/",
        dst_bucket=dst_bucket,
        dst_prefix="mig/",
        batch_size=size.batch_size,
    )
    planned["delete-prefix"] = DeletePrefixJob(
        bucket=bucket, prefix="dp/", batch_size=size.batch_size
    )
    failing = {f"bad-copy-{i}" for i in range(size.missing_copies)}
    for job_id in sorted(failing):
        planned[job_id] = CopyJob(src_bucket=bucket, src_key=f"missing/{job_id}", dst_key=job_id)
    order = list(planned)
    rng.shuffle(order)
    workload_started = time.monotonic()
    for wave in range(size.waves):
        ids = order[wave :: size.waves]
        handles = await jobs.enqueue_many(
            [planned[i] for i in ids], job_ids=ids, defer_by=wave * size.spread_s / size.waves
        )
        assert all(h.enqueued for h in handles)

    copies_due: list[str] = []

    async def on_result(job_id: str, result: dict[str, Any]) -> None:
        # A copy of an uploaded object is enqueued once its upload has finished.
        if job_id.startswith("up-") and result.get("s"):
            i = int(job_id[3:])
            if i < size.copies:
                copy_id = f"cp-{i}"
                planned[copy_id] = CopyJob(
                    src_bucket=bucket, src_key=f"up/{i:05d}", dst_key=f"cp/{i:05d}"
                )
                (handle,) = await jobs.enqueue_many([planned[copy_id]], job_ids=[copy_id])
                assert handle.enqueued
                copies_due.append(copy_id)

    def more() -> list[str]:
        new = list(copies_due)
        copies_due.clear()
        return new

    chaos = asyncio.create_task(monkey.run())
    try:
        results = await wait_for_results(
            test_redis, order, timeout=size.timeout, on_result=on_result, more=more
        )
    finally:
        monkey.stop()
        await chaos
    workload_s = time.monotonic() - workload_started
    for worker in monkey.workers:
        worker.stop()
    all_workers = [*monkey.retired, *monkey.workers]

    # -- verification ---------------------------------------------------------------------------
    verify_started = time.monotonic()
    assert set(results) == set(planned), "a job was lost"
    outcomes: dict[str, Any] = {}
    for job_id in planned:
        handle = jobs.handle(job_id)
        if job_id in failing:
            with pytest.raises(JobFailedError) as info:
                await handle.result(timeout=5)
            assert info.value.code == "NoSuchKey", (job_id, info.value)
            assert await handle.status() == JobStatus.FAILED
        else:
            outcomes[job_id] = await handle.result(timeout=5)
            assert await handle.status() == JobStatus.COMPLETE

    # Dead letters: one per failing job, none for any other.
    store = DeadLetterStore(test_redis, queue)
    letters = await store.list(limit=10_000)
    assert sorted(d.job_id for d in letters) == sorted(failing)
    assert {d.code for d in letters} <= {"NoSuchKey"}

    # Uploads and copies: byte-identical.
    async def fetch(key: str) -> bytes:
        async with slots:
            return await admin_storage.fetch_file(bucket=bucket, key=key)

    up_keys = [f"up/{i:05d}" for i in range(size.uploads)]
    got = await asyncio.gather(*(fetch(k) for k in up_keys))
    assert [k for k, data in zip(up_keys, got, strict=True) if data != content_for(k)] == []
    for i in range(size.uploads):
        result = outcomes[f"up-{i}"]
        assert isinstance(result, UploadResult)
        assert result.size == len(content_for(up_keys[i]))
    cp_ids = sorted(i for i in planned if i.startswith("cp-"))
    assert len(cp_ids) == size.copies
    got = await asyncio.gather(*(fetch(f"cp/{int(i[3:]):05d}") for i in cp_ids))
    bad = [i for i, data in zip(cp_ids, got, strict=True) if data != content_for(f"up/{i[3:]:0>5}")]
    assert bad == []
    assert all(isinstance(outcomes[i], CopyResult) for i in cp_ids)

    # Deletes: every key gone but the denied ones, each denied key reported exactly once.
    assert await admin_storage.list_files(bucket=bucket, prefix="del/") == []
    reported: list[tuple[str, str]] = []
    for j, keys in enumerate(delete_sets):
        result = outcomes[f"del-{j}"]
        assert isinstance(result, DeleteResult)
        expected_failed = sorted(k for k in keys if k in denied)
        reported.extend((f.key, f.code) for f in result.failed)
        assert [f.key for f in result.failed] == expected_failed, f"del-{j}"
        assert result.deleted_count == len(set(keys)) - len(expected_failed)
    assert sorted(reported) == [(k, "AccessDenied") for k in denied]
    assert sorted(await admin_storage.list_files(bucket=bucket, prefix="deny/")) == denied

    # Migration: every object at the destination with the source's size and ETag.
    migrated = outcomes["migrate"]
    assert isinstance(migrated, MigrateResult)
    assert (migrated.listed, migrated.failed) == (len(mig_keys), 0)
    assert migrated.copied + migrated.skipped == len(mig_keys)
    src_objects = {
        o.key: (o.size, o.etag)
        async for page in admin_storage.iter_pages(bucket=bucket, prefix="mig/")
        for o in page
    }
    dst_objects = {
        o.key: (o.size, o.etag)
        async for page in admin_storage.iter_pages(bucket=dst_bucket, prefix="mig/")
        for o in page
    }
    assert len(src_objects) == len(mig_keys)
    assert dst_objects == src_objects

    # Prefix delete: everything under the prefix gone.
    pruned = outcomes["delete-prefix"]
    assert isinstance(pruned, DeletePrefixResult)
    assert (pruned.listed, pruned.deleted, pruned.failed) == (len(dp_keys), len(dp_keys), 0)
    assert await admin_storage.list_files(bucket=bucket, prefix="dp/") == []

    # Nothing left running or queued (batch jobs included).
    assert await test_redis.zcard(queue) == 0
    assert [k async for k in test_redis.scan_iter(match="arq:in-progress:*")] == []
    assert [k async for k in test_redis.scan_iter(match="arq:job:*")] == []

    # -- the report -----------------------------------------------------------------------------
    all_events = log_events(all_workers)
    events = event_counts(all_events)
    reruns = [e for e in all_events if e.get("event") == "job.start" and e.get("attempt", 1) > 1]
    kinds: dict[str, int] = {}
    for job in planned.values():
        kind = str(getattr(job, "kind", "?"))
        kinds[kind] = kinds.get(kind, 0) + 1
    report = {
        "size": SIZE_NAME,
        "seed": SEED,
        "workers": size.workers,
        "jobs": {
            **kinds,
            "failing_copies": len(failing),
            "total": len(planned),
            "delete_keys": sum(len(k) for k in delete_sets),
            "migrate_objects": len(mig_keys),
            "delete_prefix_objects": len(dp_keys),
            "attempts_started": events["job.start"],
            "attempts_after_the_first": len(reruns),
            "jobs_run_more_than_once": len({e.get("job_id") for e in reruns}),
        },
        "faults": dict(chaos_proxy.stats),
        "kills": {
            "worker_sigkills": monkey.kills,
            "worker_restarts": monkey.restarts,
            "redis_kill_rounds": monkey.redis_kill_rounds,
            "redis_connections_killed": monkey.redis_connections_killed,
        },
        "retries": {
            "job.retry": events["job.retry"],
            "delete.retry_round": events["delete.retry_round"],
            "delete.partial_failure": events["delete.partial_failure"],
        },
        "backpressure_events": events["s3.backpressure"],
        "worker_events": {
            name: events[name]
            for name in (
                "job.start",
                "job.done",
                "job.failed",
                "job.dead_lettered",
                "lease.lost",
                "redis.unavailable",
                "redis.recovered",
                "housekeeping.redis_error",
                "housekeeping.late",
            )
        },
        "outcomes": {
            "succeeded": len(outcomes),
            "failed": len(failing),
            "dead_letters": len(letters),
            "denied_keys_reported": len(reported),
            "migrate": migrated.model_dump(include={"listed", "copied", "skipped", "failed"}),
            "delete_prefix": pruned.model_dump(include={"listed", "deleted", "failed"}),
        },
        "duration_s": {
            "setup": round(setup_s, 1),
            "workload": round(workload_s, 1),
            "verify": round(time.monotonic() - verify_started, 1),
            "total": round(time.monotonic() - started, 1),
        },
    }
    write_report(report, os.environ.get("STORAGE_JOBS_CHAOS_REPORT"))
    assert monkey.kills >= 1 and monkey.redis_connections_killed >= 1, "no chaos happened"
