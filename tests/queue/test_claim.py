"""Queue.claim and Queue.renew against a real Redis (``lua/claim.lua``, ``lua/renew.lua``).

The claim takes due jobs in batches with their payloads and attempt counters, moves their scores
to their leases' deadline, obeys the operator, and is told every key it touches: the ids it
expects (the last claim's lookahead) come with their keys, and an id it was not told of sends it
back for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from arq.jobs import Job
from arq.jobs import JobStatus as ArqStatus
from redis.asyncio import Redis

from storage_jobs.devstack import RedisServer
from storage_jobs.jobs import MigrateJob, UploadJob, batch_job_id
from storage_jobs.queue import (
    ATTEMPTS_TTL_S,
    JobStatus,
    NewJob,
    Priority,
    Queue,
    QueueKeys,
    read_history,
)
from storage_jobs.queue._claim import MAX_CALLS

pytestmark = pytest.mark.integration

FAR = 2**50  # a "now" past every score
NOW = 1_700_000_000_000  # ms: a fixed clock for the idle-wait answers


def _upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


def _worker(redis: Redis, queue: str, worker_id: str = "w1", lease_s: float = 10) -> Queue:
    return Queue(redis, queue, result_ttl=60, worker_id=worker_id, lease_seconds=lease_s)


async def _enqueue(
    q: Queue, names: list[str], priority: Priority | None = None, defer_by: float | None = None
) -> list[str]:
    """Enqueues uploads named ``names`` (ids ``<queue>-<name>``: ids are global)."""
    ids = [f"{q.name}-{n}" for n in names]
    await q.enqueue_many(
        [NewJob(_upload(n), i, defer_by, priority) for n, i in zip(names, ids, strict=True)]
    )
    return ids


def _names(q: Queue, ids: list[str]) -> list[str]:
    return [i.removeprefix(f"{q.name}-") for i in ids]


async def _commands(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if isinstance(v, dict))


async def test_one_call_takes_a_batch_with_payloads_and_tries(redis: Redis, queue: str) -> None:
    """5 due jobs, 3 free slots: the 3 oldest, their payloads, attempt 1, scores moved."""
    q = _worker(redis, queue)
    ids = await _enqueue(q, [str(i) for i in range(5)])
    scores = [int(await redis.zscore(queue, j) or 0) for j in ids]
    claim = await q.claim(3, FAR)
    assert not claim.paused and claim.cancelled == []
    assert [c.job_id for c in claim.run] == ids[:3]
    assert [c.score for c in claim.run] == scores[:3]
    assert [c.job_try for c in claim.run] == [1, 1, 1]
    for c in claim.run:
        assert c.payload == await redis.get(QueueKeys.job(c.job_id))
        assert await redis.get(QueueKeys.in_progress(c.job_id)) == b"w1"
        assert await redis.get(QueueKeys.retry(c.job_id)) == b"1"
        assert ATTEMPTS_TTL_S - 5 < await redis.ttl(QueueKeys.retry(c.job_id)) <= ATTEMPTS_TTL_S
        # arq's own Job API still reads it as running.
        assert await Job(c.job_id, redis, _queue_name=queue).status() == ArqStatus.in_progress
    # The taken jobs' scores moved to their leases' deadline: the next claim reads past none.
    assert await redis.zscore(queue, ids[0]) == FAR + 10_000
    again = await _worker(redis, queue, "w2").claim(5, FAR)
    assert [c.job_id for c in again.run] == ids[3:]


async def test_the_lookahead_makes_a_claim_one_call_of_few_commands(tmp_path: Path) -> None:
    """The first claim learns the due ids (2 calls); the next one takes from them in 1.

    Commands for 19 jobs: 5 per claim call plus 2 per job (its lease and attempt counter).
    Counted on a private ``redis-server``: the shared one serves other tests meanwhile.
    """
    with RedisServer(tmp_path / "redis") as server:
        redis = Redis.from_url(server.url)
        try:
            q = _worker(redis, "cost")
            await _enqueue(q, [str(i) for i in range(40)])
            # As the worker asks (scan 2 * want + max_jobs): the lookahead covers its slots.
            first = await q.claim(1, FAR, scan=2 + 20)
            assert first.calls == 2  # it knew no id: the script sent it back for their keys
            before = await _commands(redis)
            reads = int((await redis.info("stats"))["total_reads_processed"])
            claim = await q.claim(19, FAR)
            after = await _commands(redis)
            reads = int((await redis.info("stats"))["total_reads_processed"]) - reads
        finally:
            await redis.aclose()
    assert len(claim.run) == 19 and claim.calls == 1
    # EVALSHA, MGET of the flags, ZRANGEBYSCORE of the high and normal lanes, ZADD of the
    # scores, MGET of the payloads and counters; SET NX of each lease, SET of each counter;
    # then the two INFO calls.
    assert after - before == 6 + 2 * 19 + 2
    assert reads == 3  # the claim, and the two INFO calls after the first count


async def test_a_high_job_newer_than_the_lookahead_is_still_taken_first(
    redis: Redis, queue: str
) -> None:
    """The lookahead holds bulk ids; a high job enqueued since is met first and taken first."""
    q = _worker(redis, queue)
    await _enqueue(q, [f"b{i}" for i in range(10)], "bulk")
    assert _names(q, [c.job_id for c in (await q.claim(1, FAR)).run]) == ["b0"]
    assert q.leases.lookahead  # the bulk ids it saw and left
    await _enqueue(q, ["h"], "high")
    claim = await q.claim(2, FAR)
    assert [(c.lane, _names(q, [c.job_id])[0]) for c in claim.run] == [
        ("high", "h"),
        ("bulk", "b1"),
    ]
    assert claim.calls == 2  # the high job's keys were not declared: one call more


async def test_a_lookahead_taken_by_another_worker_still_fills_the_claim(
    redis: Redis, queue: str
) -> None:
    q, other = _worker(redis, queue), _worker(redis, queue, "w2")
    ids = await _enqueue(q, [str(i) for i in range(8)])
    await q.claim(1, FAR)  # its lookahead: ids 1..7
    assert [c.job_id for c in (await other.claim(4, FAR)).run] == ids[1:5]
    claim = await q.claim(4, FAR)
    assert [c.job_id for c in claim.run] == ids[5:]
    assert await redis.get(QueueKeys.in_progress(ids[1])) == b"w2"  # never taken twice


async def test_a_claim_cut_short_by_jobs_written_under_it_says_so(
    redis: Redis, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An enqueue still writing puts an id ahead of the lookahead before every call.

    After ``MAX_CALLS`` the claim returns what it took and says it missed (due jobs are left,
    and it knows no soonest score), rather than look like a queue with nothing more due.
    """
    q = _worker(redis, queue)
    older = await _enqueue(q, ["a", "b"])
    script = q.scripts.claim
    written: list[str] = []

    async def new_job_first(**call: Any) -> Any:
        (job_id,) = await _enqueue(q, [f"new{len(written)}"])
        await redis.zadd(queue, {job_id: 1}, xx=True)  # before every queued job
        written.append(job_id)
        return await script(**call)

    monkeypatch.setattr(q.scripts, "claim", new_job_first)
    claim = await q.claim(10, FAR)
    assert claim.calls == MAX_CALLS == len(written)
    # Each call took the id the one before it met, and stopped at the newest.
    assert [c.job_id for c in claim.run] == written[:-1]
    assert claim.missed and claim.next_due_ms is None
    monkeypatch.undo()
    rest = await q.claim(10, FAR)
    assert [c.job_id for c in rest.run] == [written[-1], *older]
    assert not rest.missed and rest.calls == 1


async def test_a_lapsed_lease_makes_the_job_due_again_with_its_next_try(
    redis: Redis, queue: str
) -> None:
    """A dead worker's job is taken again once its lease and score lapse, as attempt 2."""
    q = _worker(redis, queue)
    (job_id,) = await _enqueue(q, ["job"])
    now = 10**12 * 2
    assert [c.job_try for c in (await q.claim(1, now)).run] == [1]
    second = _worker(redis, queue, "w2")
    assert len(await second.claim(1, now + 5_000)) == 0  # not due: still leased
    await redis.delete(QueueKeys.in_progress(job_id))  # the lease lapses with its score
    taken = await second.claim(1, now + 10_000)
    assert [(c.job_id, c.job_try) for c in taken.run] == [(job_id, 2)]


async def _cancelled_in_history(q: Queue) -> int:
    """The cancelled outcomes the overview's chart shows for the last hour."""
    return sum(minute.cancelled for minute in await read_history(q.redis, q.name))


async def test_a_marked_job_is_claimed_to_be_finished_as_cancelled(
    redis: Redis, queue: str
) -> None:
    """A job marked while running (its worker then died) is claimed as cancelled, not run.

    The worker's lookahead was learnt while no marker existed (no marker keys declared): the
    flag set since sends the claim back for them.
    """
    q = _worker(redis, queue, "w2")
    job_id, other = await _enqueue(q, ["job", "other"], defer_by=3600)
    await redis.zadd(queue, {job_id: 1, other: 1})  # due now
    await redis.psetex(QueueKeys.in_progress(job_id), 10_000, "dead-worker")
    assert len(await q.claim(5, FAR)) == 1 and not q.leases.control  # other is taken
    await redis.delete(QueueKeys.in_progress(other))
    await redis.zadd(queue, {other: 1})
    assert await q.cancel([job_id]) == [True]
    await redis.delete(QueueKeys.in_progress(job_id))  # the dead worker's lease lapses
    claim = await q.claim(5, FAR)
    assert claim.cancelled == [job_id]
    assert [c.job_id for c in claim.run] == [other]  # an unmarked job still runs
    assert claim.calls == 2 and q.leases.control
    assert q.leases.lane_of(job_id) == "normal"
    assert await _cancelled_in_history(q) == 0  # marking it counted nothing
    assert await q.finish_cancelled(job_id) == "storage_jobs.upload"
    assert await q.status(job_id) == JobStatus.CANCELLED
    assert len(await q.claim(5, FAR)) == 0
    assert await redis.zrange(q.keys.finished("cancelled"), 0, -1) == [job_id.encode()]
    # The overview's chart counts it once, even if its finish is repeated.
    assert await _cancelled_in_history(q) == 1
    await q.finish_cancelled(job_id)
    assert await _cancelled_in_history(q) == 1


async def test_nothing_is_taken_while_the_queue_is_paused(redis: Redis, queue: str) -> None:
    q = _worker(redis, queue)
    (job_id,) = await _enqueue(q, ["job"])
    assert await q.pause() and await q.paused()
    claim = await q.claim(5, FAR)
    assert claim.paused and len(claim) == 0
    assert not await redis.exists(QueueKeys.in_progress(job_id))
    assert await q.resume()
    assert await redis.lrange(q.keys.wake, 0, -1) == [b"1"]  # type: ignore[misc]
    assert [c.job_id for c in (await q.claim(5, FAR)).run] == [job_id]


async def test_batches_of_a_paused_prefix_job_are_parked_and_resumed(
    redis: Redis, queue: str
) -> None:
    """A paused migration's batch leaves its lane for the parked set; resume brings it back."""
    q = _worker(redis, queue)
    mig = f"{queue}-mig"
    job = MigrateJob(src_bucket="src-bkt", src_prefix="p/", dst_bucket="dst-bkt")
    await q.enqueue_many([NewJob(job, mig)])
    batch = batch_job_id(mig, 1)
    await q.enqueue_many([NewJob(_upload(), batch, priority="bulk")])
    score = await redis.zscore(q.keys.lane("bulk"), batch)
    assert await q.pause_job(mig) and await q.job_paused(mig)
    # A queued coordinator of a paused job is parked with its batches (it is its own owner).
    assert len(await q.claim(5, FAR)) == 0
    assert await redis.zscore(QueueKeys.parked(mig), mig) is not None
    assert await redis.zscore(q.keys.lane("bulk"), batch) is None
    assert await redis.zscore(QueueKeys.parked(mig), batch) == score
    assert await redis.get(QueueKeys.parked_lane(mig)) in (b"normal", b"bulk")
    assert await q.status(batch) == JobStatus.PAUSED
    assert await q.resume_job(mig)
    assert not await redis.exists(QueueKeys.parked(mig), QueueKeys.parked_lane(mig))
    claim = await q.claim(5, FAR)
    assert (batch, int(score or 0)) in [(c.job_id, c.score) for c in claim.run]


async def test_an_empty_claim_says_when_the_soonest_job_is_due(redis: Redis, queue: str) -> None:
    q = _worker(redis, queue, lease_s=30)
    empty = await q.claim(4, NOW)
    assert len(empty) == 0 and empty.next_due_ms is None
    later, sooner = f"{queue}-later", f"{queue}-sooner"
    await q.enqueue_many([NewJob(_upload(), later, priority="high")])
    await q.enqueue_many([NewJob(_upload(), sooner, priority="bulk")])
    await redis.zadd(q.keys.lane("high"), {later: NOW + 9_000})
    await redis.zadd(q.keys.lane("bulk"), {sooner: NOW + 4_000})
    claim = await q.claim(4, NOW)
    assert len(claim) == 0 and claim.next_due_ms == NOW + 4_000  # the soonest over every lane
    taken = await q.claim(1, NOW + 4_000)
    assert [c.job_id for c in taken.run] == [sooner]
    assert taken.next_due_ms is None  # it took a job: no idle wait follows
    # A running job's lease deadline is when another worker looks again.
    await redis.zrem(q.keys.lane("high"), later)
    other = await _worker(redis, queue, "w2", lease_s=30).claim(1, NOW + 4_010)
    assert other.next_due_ms == NOW + 4_000 + 30_000


async def test_renew_keeps_the_lease_and_moves_the_score_in_the_jobs_lane(
    redis: Redis, queue: str
) -> None:
    q = _worker(redis, queue)
    (h,) = await _enqueue(q, ["h"], "high")
    now = 2 * 10**12
    await q.claim(1, now)
    assert await q.renew([h], now + 5_000) == []
    assert await redis.zscore(q.keys.lane("high"), h) == now + 15_000  # the lease's deadline
    assert 9_000 < await redis.pttl(QueueKeys.in_progress(h)) <= 10_000
    await redis.set(QueueKeys.in_progress(h), "thief")
    assert await q.renew([h], now + 6_000) == [h]  # lost: reported once
    assert await q.renew([h], now + 7_000) == []
    assert await redis.get(QueueKeys.in_progress(h)) == b"thief"
    assert q.leases.forget(h) is True


async def test_lost_leases_are_remembered_only_while_their_jobs_run(
    redis: Redis, queue: str
) -> None:
    """200 jobs whose lease was found lost, then ended unfinished: ``lost`` ends empty.

    A job failed before it ran (expired, undecodable, over-tried) loses its lease without a
    finish that would forget it; found by the soak run's probe (138 after 13 minutes).
    """
    q = _worker(redis, queue)
    for n in range(200):
        (job_id,) = await _enqueue(q, [str(n)])
        assert [c.job_id for c in (await q.claim(1, FAR)).run] == [job_id]
        await redis.delete(QueueKeys.in_progress(job_id))
        assert await q.renew([job_id], FAR) == [job_id]
        await q.renew([], FAR)  # the job's task ended: it is no longer running
    assert len(q.leases.lost) == 0
