"""Priority lanes end to end: high before normal before bulk, with the stated share below.

A migration's batches wait in bulk while a normal job runs; one worker taking one job at a time
runs a backlog of all three lanes in the order the claim's share rule gives. Order is read off
the sequence of events the (in-process) worker logs, never off clocks.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from storage_jobs.client import JobStatus, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import LANES, SHARE_EVERY, Priority, reserved_lane
from tests.fixtures_e2e import fill, on_every_layout, wait_until
from tests.workers import InProcessWorker, StartInProcess

pytestmark = pytest.mark.integration


def _at(worker: InProcessWorker, event: str, job_id: str) -> int:
    """Where in the worker's log ``event`` for ``job_id`` is (an index: a point in its order)."""
    return next(
        i for i, e in enumerate(worker.log) if e.get("event") == event and e.get("job_id") == job_id
    )


@on_every_layout
async def test_normal_uploads_overtake_a_migrations_bulk_batches(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """One worker busy with a migration: uploads enqueued mid-way each run at the next claim.

    The migration's batches wait in the bulk lane; the uploads, enqueued with no priority, go
    to normal, which the worker takes first. Three uploads one after another, because one alone
    cannot tell lane order from the share: the claim that gives normal its 1-in-``SHARE_EVERY``
    slot takes it under any order, and which call that is depends on the worker's history.
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"l/{i:04d}" for i in range(500)]
    await fill(seaweedfs, bucket, keys)
    # Copies are slow, listing is not: the batches pile up in their lane.
    fault_proxy.rules = FaultRules(
        latency_s=0.3, methods=frozenset({"PUT"}), path_prefix=f"/{dst}/"
    )
    worker = await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url,
        STORAGE_JOBS_MAX_JOBS="2",
        STORAGE_JOBS_LEASE_SECONDS="20",
    )
    job = MigrateJob(
        src_bucket=bucket, src_prefix="l/", dst_bucket=dst, dst_prefix="l/", batch_size=50
    )
    migration = await jobs.enqueue(job, job_id=f"mig-{uuid.uuid4().hex[:8]}")
    lanes = jobs.queue.shard(migration.job_id).keys  # a prefix job's batches share its shard
    last = batch_job_id(migration.job_id, 10)

    async def all_listed() -> bool:
        return await jobs.redis.zscore(lanes.lane("bulk"), last) is not None

    await wait_until(all_listed)
    assert await jobs.redis.zscore(lanes.queue, last) is None  # not in the normal lane
    uploads: list[str] = []
    visible: dict[str, int] = {}  # upload -> the log's length once every claim could see it
    for n in range(3):
        # Enqueued while the queue is paused, so no claim runs while the upload is being
        # written: a batch claimed in that instant would start after the upload was
        # enqueued without the claim having seen it.
        assert await jobs.pause_queue()
        upload = await jobs.enqueue(UploadJob(bucket=bucket, key=f"urgent-{n}.txt", data=b"u"))
        normal = jobs.queue.shard(upload.job_id).keys.queue
        assert await jobs.redis.zscore(normal, upload.job_id) is not None
        await asyncio.sleep(0.1)  # a batch claimed just before the pause has started by now
        visible[upload.job_id] = len(worker.log)
        assert await jobs.resume_queue()
        assert (await upload.result(timeout=120)).size == 1
        uploads.append(upload.job_id)
    # The uploads are done while the migration still has batches waiting in bulk.
    assert await migration.status() == JobStatus.IN_PROGRESS
    assert await jobs.status(last) == JobStatus.QUEUED
    result = await migration.result(timeout=300)
    assert (result.listed, result.copied, result.failed) == (500, 500, 0)
    batches = [batch_job_id(migration.job_id, n) for n in range(1, 11)]
    for job_id in uploads:
        came, began = visible[job_id], _at(worker, "job.start", job_id)
        # One slot runs batches (the coordinator holds the other): when the batch running at
        # the upload's arrival ends, the next claim takes the upload, unless it is the call
        # that gives bulk its share: then the one after. So one batch may start before it.
        # Over shards a claim takes them in turn, so the batches' shard can come first once
        # for each shard before the upload's does: one batch per shard at most.
        jumped = [b for b in batches if came < _at(worker, "job.start", b) < began]
        assert len(jumped) <= len(jobs.queue.shards), (job_id, jumped)
        assert _at(worker, "job.done", job_id) < _at(worker, "job.done", batches[-1])
    assert _at(worker, "job.done", uploads[-1]) < _at(worker, "job.done", migration.job_id)


def _claim_order(backlog: dict[Priority, list[str]], first_call: int) -> list[str]:
    """The order one-slot claims take ``backlog``, the first being call ``first_call``.

    Each call takes the oldest job of its reserved lane (``reserved_lane``) when that lane has
    one, else of the highest lane that has one: what the claim script does with one free slot.
    """
    left = {lane: list(ids) for lane, ids in backlog.items()}
    order: list[str] = []
    call = first_call
    while any(left.values()):
        reserved = reserved_lane(call)
        lane = next(name for name in LANES if left[name])
        if reserved and left[LANES[reserved - 1]]:
            lane = LANES[reserved - 1]
        order.append(left[lane].pop(0))
        call += 1
    return order


async def test_one_slot_runs_high_then_normal_then_bulk_with_the_stated_share(
    start_in_process: StartInProcess, jobs: StorageJobsClient, bucket: str
) -> None:
    """One slot runs a backlog high first, then normal, then bulk, with the stated share.

    A paused queue gets bulk, normal and high uploads (in that order); resumed, the worker runs
    them by lane, except that of every ``SHARE_EVERY`` claims one goes to the oldest normal job
    and one to the oldest bulk job while they wait. The start order is the order of the
    worker's ``job.start`` events. The worker's claim calls while paused count towards the
    share's cycle, so the order must be the one of some phase of it.
    """
    worker = await start_in_process(STORAGE_JOBS_MAX_JOBS="1")
    assert await jobs.pause_queue()
    tag = uuid.uuid4().hex[:8]
    counts: dict[Priority, int] = {"high": 2 * SHARE_EVERY, "normal": SHARE_EVERY, "bulk": 4}
    backlog: dict[Priority, list[str]] = {
        lane: [f"{tag}-{lane}-{i:02d}" for i in range(counts[lane])] for lane in LANES
    }
    for lane in ("bulk", "normal", "high"):  # the highest lane is the youngest
        for job_id in backlog[lane]:
            job = UploadJob(bucket=bucket, key=job_id, data=b"x")
            await jobs.enqueue(job, job_id=job_id, priority=lane)
    assert await jobs.resume_queue()
    ids = [job_id for lane in LANES for job_id in backlog[lane]]
    for job_id in ids:
        assert (await jobs.handle(job_id).result(timeout=120)).size == 1
    started = [e["job_id"] for e in worker.events("job.start")]
    expected = [_claim_order(backlog, phase) for phase in range(SHARE_EVERY)]
    assert started in expected, started
    # Not vacuous: no phase of the cycle runs the lanes one after the other (no share).
    assert ids not in expected


async def test_a_reserved_slot_starts_a_normal_job_while_bulk_jobs_wait(
    start_in_process: StartInProcess, jobs: StorageJobsClient, bucket: str, fault_proxy: FaultProxy
) -> None:
    """Two slots, one reserved: bulk jobs run one at a time, a normal one starts beside them.

    Each bulk upload's PUT waits 4 s at the proxy. Without the reserved slot both slots would
    run bulk jobs and the normal upload would wait for one to end; with it, the upload enqueued
    while the first bulk job runs starts before either ends (in the worker's order of events;
    ``STORAGE_JOBS_RESERVED_SLOTS=0`` fails this test).
    """
    fault_proxy.rules = FaultRules(
        latency_s=4.0, methods=frozenset({"PUT"}), path_prefix=f"/{bucket}/slow/"
    )
    worker = await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url,
        STORAGE_JOBS_MAX_JOBS="2",
        STORAGE_JOBS_RESERVED_SLOTS="1",
        STORAGE_JOBS_LEASE_SECONDS="20",
    )
    # Queued while paused, so the first claim after the resume sees both at once. Jobs of one
    # millisecond (one call: one score) are taken in id order, not in the order given: the ids
    # sort against it, so which bulk job runs first is read off the worker, never assumed.
    assert await jobs.pause_queue()
    tag = uuid.uuid4().hex[:8]
    slow = [UploadJob(bucket=bucket, key=f"slow/{i}", data=b"b") for i in range(2)]
    bulk = await jobs.enqueue_many(slow, job_ids=[f"{tag}-b", f"{tag}-a"], priority="bulk")
    assert await jobs.resume_queue()

    async def one_running() -> bool:
        return JobStatus.IN_PROGRESS in [await handle.status() for handle in bulk]

    await wait_until(one_running)
    upload = await jobs.enqueue(UploadJob(bucket=bucket, key="fast/u", data=b"u"))
    assert (await upload.result(timeout=120)).size == 1
    for handle in bulk:
        assert (await handle.result(timeout=120)).size == 1
    first, second = sorted((h.job_id for h in bulk), key=lambda j: _at(worker, "job.start", j))
    # It started without waiting for a bulk job to end (how soon its own PUT is answered is
    # the S3 side's business).
    assert _at(worker, "job.start", upload.job_id) < _at(worker, "job.done", first), [
        (e.get("event"), e.get("job_id")) for e in worker.log
    ]
    # One bulk slot: each bulk job starts once the one before it has finished.
    assert _at(worker, "job.start", first) < _at(worker, "job.done", first)
    assert _at(worker, "job.done", first) < _at(worker, "job.start", second)
