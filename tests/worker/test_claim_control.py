"""The batched claim: one call takes due jobs with their payloads, and obeys the operator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from redis.asyncio import Redis

from storage_jobs.devstack import RedisServer
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import (
    Control,
    Enqueuer,
    JobStatus,
    NewJob,
    QueueKeys,
    finish_cancelled,
    read_history,
    read_status,
)
from storage_jobs.worker._leases import Leases

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/12"
FAR = 2**50  # a "now" past every score


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def _upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


async def _commands(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if isinstance(v, dict))


async def test_one_call_takes_a_batch_with_payloads_and_tries(redis: Redis) -> None:
    """5 due jobs, 3 free slots: one claim takes the 3 oldest, their payloads and attempt 1."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    ids = [f"{queue}-{i}" for i in range(5)]
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
        [NewJob(_upload(str(i)), job_id) for i, job_id in enumerate(ids)]
    )
    scores = [int(await redis.zscore(queue, j) or 0) for j in ids]
    leases = Leases(queue, "w1", 10)
    claim = await leases.claim(redis, 3, FAR)
    assert not claim.paused and claim.cancelled == []
    assert [c.job_id for c in claim.run] == ids[:3]
    assert [c.score for c in claim.run] == scores[:3]
    assert [c.job_try for c in claim.run] == [1, 1, 1]
    for c in claim.run:
        assert c.payload == await redis.get(QueueKeys.job(c.job_id))
        assert await redis.get(QueueKeys.in_progress(c.job_id)) == b"w1"
        assert await redis.get(QueueKeys.retry(c.job_id)) == b"1"
        assert 0 < await redis.ttl(QueueKeys.retry(c.job_id)) <= 88_400
        # arq's own Job API still reads it as running.
        assert await Job(c.job_id, redis, _queue_name=queue).status() == ArqStatus.in_progress
    # The taken jobs' scores moved to their leases' deadline: the next claim reads past none.
    assert await redis.zscore(queue, ids[0]) == FAR + 10_000
    again = await Leases(queue, "w2", 10).claim(redis, 5, FAR)
    assert [c.job_id for c in again.run] == ids[3:]


async def test_a_claim_is_one_round_trip_of_few_commands(tmp_path: Path) -> None:
    """Commands for 20 jobs: 5 per claim plus 2 per job (the lease and the attempt counter).

    Counted on a private ``redis-server``: the shared one serves other tests meanwhile.
    """
    with RedisServer(tmp_path / "redis") as server:
        redis = Redis.from_url(server.url)
        try:
            queue = f"claim-{uuid.uuid4().hex[:8]}"
            await Enqueuer(redis, queue, result_ttl=60).enqueue(
                [NewJob(_upload(str(i)), f"{queue}-{i}") for i in range(20)]
            )
            leases = Leases(queue, "w1", 10)
            await leases.claim(redis, 1, FAR)  # the script is loaded
            before = await _commands(redis)
            reads = int((await redis.info("stats"))["total_reads_processed"])
            claim = await leases.claim(redis, 20, FAR)
            after = await _commands(redis)
            reads = int((await redis.info("stats"))["total_reads_processed"]) - reads
        finally:
            await redis.aclose()
    assert len(claim.run) == 19
    # EVALSHA, MGET of the flags, ZRANGEBYSCORE of each of the three lanes, ZADD of the
    # scores, MGET of the payloads and counters; SET NX of each lease, SET of each counter;
    # then the two INFO calls.
    assert after - before == 7 + 2 * 19 + 2
    assert reads == 3  # the claim, and the two INFO calls after the first count


async def test_a_lapsed_lease_makes_the_job_due_again_with_its_next_try(redis: Redis) -> None:
    """A dead worker's job is taken again once its lease and score lapse, as attempt 2."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-job"
    await Enqueuer(redis, queue, result_ttl=60).enqueue([NewJob(_upload(), job_id)])
    now = 10**12 * 2
    first = await Leases(queue, "w1", 10).claim(redis, 1, now)
    assert [c.job_try for c in first.run] == [1]
    second = Leases(queue, "w2", 10)
    assert len(await second.claim(redis, 1, now + 5_000)) == 0  # not due: still leased
    await redis.delete(QueueKeys.in_progress(job_id))  # the lease lapses with its score
    taken = await second.claim(redis, 1, now + 10_000)
    assert [(c.job_id, c.job_try) for c in taken.run] == [(job_id, 2)]


async def test_claim_finishes_a_marked_job_instead_of_running_it(redis: Redis) -> None:
    """A job marked while running (its worker then died) is claimed as cancelled, not run."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-job"
    other = f"{queue}-other"
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
        [NewJob(_upload(), job_id), NewJob(_upload("o"), other)]
    )
    await redis.psetex(QueueKeys.in_progress(job_id), 10_000, "dead-worker")
    assert await Control(redis, queue, 60).cancel([job_id]) == [True]
    await redis.delete(QueueKeys.in_progress(job_id))  # the dead worker's lease lapses
    leases = Leases(queue, "w2", 10)
    claim = await leases.claim(redis, 5, FAR)
    assert claim.cancelled == [job_id]
    assert [c.job_id for c in claim.run] == [other]  # an unmarked job still runs
    assert await cancelled_in_history(redis, queue) == 0  # marking it counted nothing
    assert await finish_cancelled(redis, queue, job_id, result_ttl=60) == "storage_jobs.upload"
    assert await read_status(redis, queue, job_id) == JobStatus.CANCELLED
    assert len(await leases.claim(redis, 5, FAR)) == 0
    cancelled = QueueKeys(queue).finished("cancelled")
    assert await redis.zrange(cancelled, 0, -1) == [job_id.encode()]
    # The overview's chart counts it once, even if its finish is repeated.
    assert await cancelled_in_history(redis, queue) == 1
    await finish_cancelled(redis, queue, job_id, result_ttl=60)
    assert await cancelled_in_history(redis, queue) == 1
    assert await read_status(redis, queue, job_id) == JobStatus.CANCELLED


async def cancelled_in_history(redis: Redis, queue: str) -> int:
    """The cancelled outcomes the overview's chart shows for the last hour."""
    return sum(minute.cancelled for minute in await read_history(redis, queue))


async def _pttls(redis: Redis, *keys: str) -> list[int]:
    async with redis.pipeline(transaction=True) as tx:  # read at one instant
        for key in keys:
            tx.pttl(key)
        return [int(t) for t in await tx.execute()]


async def test_marker_writers_keep_the_control_flag_alive(redis: Redis) -> None:
    """Cancel and pause set the queue's control flag to outlive their markers; it never shrinks.

    Without the flag the claim would run a marked job: the flag must not be unset early.
    """
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    keys = QueueKeys(queue)
    enq = Enqueuer(redis, queue, result_ttl=60)
    mig = f"{queue}-mig"
    await enq.enqueue(
        [
            NewJob(_upload(), f"{queue}-a"),
            NewJob(MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt"), mig),
        ]
    )
    assert not await redis.exists(keys.control)
    assert await Control(redis, queue, 100).cancel([f"{queue}-a"]) == [True]
    flag, marker = await _pttls(redis, keys.control, keys.cancel(f"{queue}-a"))
    assert flag >= marker > 90_000
    # A shorter-lived marker written later leaves the longer flag alone.
    assert await Control(redis, queue, 10).pause_job(mig)
    flag, marker = await _pttls(redis, keys.control, keys.job_paused(mig))
    assert flag > 90_000 and 0 < marker <= 10_000
    # A longer one extends it.
    await redis.delete(keys.job_paused(mig))
    assert await Control(redis, queue, 500).pause_job(mig)
    flag, marker = await _pttls(redis, keys.control, keys.job_paused(mig))
    assert flag >= marker > 400_000


async def test_claim_takes_nothing_while_the_queue_is_paused(redis: Redis) -> None:
    """Paused queue: the claim refuses; resumed: it takes the job."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    job_id = f"{queue}-job"
    await Enqueuer(redis, queue, result_ttl=60).enqueue([NewJob(_upload(), job_id)])
    control = Control(redis, queue, 60)
    leases = Leases(queue, "w1", 10)
    await control.pause_queue()
    claim = await leases.claim(redis, 5, FAR)
    assert claim.paused and len(claim) == 0
    assert not await redis.exists(QueueKeys.in_progress(job_id))
    await control.resume_queue()
    assert [c.job_id for c in (await leases.claim(redis, 5, FAR)).run] == [job_id]


async def test_claim_parks_batches_of_a_paused_prefix_job(redis: Redis) -> None:
    """A paused migration's batch leaves the queue for the parked set; resume brings it back."""
    queue = f"claim-{uuid.uuid4().hex[:8]}"
    mig = f"{queue}-mig"
    enq = Enqueuer(redis, queue, result_ttl=60)
    await enq.enqueue(
        [NewJob(MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt"), mig)]
    )
    batch = batch_job_id(mig, 1)
    await enq.enqueue([NewJob(_upload(), batch)])
    score = await redis.zscore(queue, batch)
    control = Control(redis, queue, 60)
    assert await control.pause_job(mig)
    leases = Leases(queue, "w1", 10)
    # A queued coordinator of a paused job is parked with its batches (it is its own owner).
    assert len(await leases.claim(redis, 5, FAR)) == 0
    assert await redis.zscore(QueueKeys.parked(mig), mig) is not None
    assert await redis.zscore(queue, batch) is None
    assert await redis.zscore(QueueKeys.parked(mig), batch) == score
    assert await read_status(redis, queue, batch) == JobStatus.PAUSED
    assert await control.resume_job(mig)
    claim = await leases.claim(redis, 5, FAR)
    assert (batch, int(score or 0)) in [(c.job_id, c.score) for c in claim.run]
