"""Priority lanes: Queue.claim takes high, normal, bulk in order, with a stated share below."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import JobLimits, UploadJob
from storage_jobs.queue import (
    SHARE_EVERY,
    DeadLetterStore,
    Finish,
    JobStatus,
    NewJob,
    Priority,
    Queue,
    QueueKeys,
    queue_info,
    reserved_lane,
)

pytestmark = pytest.mark.integration

FAR = 2**50  # a "now" past every score


def _worker(redis: Redis, queue: str, worker_id: str = "w1") -> Queue:
    return Queue(redis, queue, result_ttl=60, worker_id=worker_id, lease_seconds=10)


def _upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


async def _enqueue(redis: Redis, queue: str, ids: list[str], priority: Priority | None) -> None:
    """Enqueues jobs named ``ids`` (their job ids are ``<queue>-<name>``: ids are global)."""
    await Queue(redis, queue, result_ttl=60).enqueue_many(
        [NewJob(_upload(i), f"{queue}-{i}", priority=priority) for i in ids]
    )


def _name(queue: str, job_id: str) -> str:
    return job_id.removeprefix(f"{queue}-")


async def test_a_high_job_enqueued_last_is_taken_before_a_bulk_backlog(
    redis: Redis, queue: str
) -> None:
    """100 bulk jobs then one high one: the first claim takes the high job first."""
    await _enqueue(redis, queue, [f"b{i}" for i in range(100)], "bulk")
    await _enqueue(redis, queue, ["h"], "high")
    keys = QueueKeys(queue)
    assert await redis.zcard(keys.lane("bulk")) == 100
    assert await redis.zscore(keys.queue, f"{queue}-h") is None  # not in arq's: its own lane
    claim = await _worker(redis, queue).claim(3, FAR)
    assert [(_name(queue, c.job_id), c.lane) for c in claim.run] == [
        ("h", "high"),
        ("b0", "bulk"),
        ("b1", "bulk"),
    ]


async def test_jobs_of_one_millisecond_are_taken_in_id_order(redis: Redis, queue: str) -> None:
    """One score (arq's run-at ms) for a whole enqueue call: ties are taken by id, not as given.

    A test that assumes the first of two jobs enqueued together runs first is wrong half the
    time (issue 22's flaky lanes test assumed it).
    """
    await _enqueue(redis, queue, ["b", "a"], "bulk")
    lane = QueueKeys(queue).lane("bulk")
    assert await redis.zscore(lane, f"{queue}-a") == await redis.zscore(lane, f"{queue}-b")
    claim = await _worker(redis, queue).claim(1, FAR)
    assert [_name(queue, c.job_id) for c in claim.run] == ["a"]


async def test_lower_lanes_get_their_share_under_a_high_backlog(redis: Redis, queue: str) -> None:
    """A high backlog larger than the slots: over 80 one-slot claims, bulk gets 1 in 8."""
    await _enqueue(redis, queue, [f"h{i}" for i in range(200)], "high")
    await _enqueue(redis, queue, [f"n{i}" for i in range(50)], None)
    await _enqueue(redis, queue, [f"b{i}" for i in range(50)], "bulk")
    q = _worker(redis, queue)
    taken: list[str] = []
    for _ in range(80):
        claim = await q.claim(1, FAR)
        taken += [c.lane for c in claim.run]
    assert len(taken) == 80
    assert taken.count("bulk") == 80 // SHARE_EVERY == 10
    assert taken.count("normal") == 10
    assert taken.count("high") == 60
    # Deterministic: the 4th call of every 8 gives its first slot to normal, the 8th to bulk.
    assert taken[:8] == ["high"] * 3 + ["normal"] + ["high"] * 3 + ["bulk"]
    assert [reserved_lane(i) for i in range(8)] == [0, 0, 0, 2, 0, 0, 0, 3]


async def test_a_reserved_slot_of_an_empty_lane_goes_in_the_usual_order(
    redis: Redis, queue: str
) -> None:
    """No bulk job due: the call that would give bulk its slot takes high instead."""
    await _enqueue(redis, queue, [f"h{i}" for i in range(20)], "high")
    q = _worker(redis, queue)
    lanes = [c.lane for _ in range(8) for c in (await q.claim(1, FAR)).run]
    assert lanes == ["high"] * 8


async def test_cancel_of_queued_high_and_bulk_jobs(redis: Redis, queue: str) -> None:
    """A queued job of any lane is taken off its lane and reads as cancelled."""
    await _enqueue(redis, queue, ["h"], "high")
    await _enqueue(redis, queue, ["b"], "bulk")
    keys = QueueKeys(queue)
    h, b = f"{queue}-h", f"{queue}-b"
    q = _worker(redis, queue)
    assert await q.cancel([h, b, f"{queue}-x"]) == [True, True, False]
    assert await redis.zcard(keys.lane("high")) == 0
    assert await redis.zcard(keys.lane("bulk")) == 0
    assert await q.status(h) == JobStatus.CANCELLED
    assert await q.status(b) == JobStatus.CANCELLED
    assert len(await q.claim(5, FAR)) == 0


async def test_status_by_id_reads_every_lane(redis: Redis, queue: str) -> None:
    """A job queued in any lane reads as queued; deferred in bulk as deferred."""
    for lane in ("high", "normal", "bulk"):
        await _enqueue(redis, queue, [lane], lane)
        assert await Queue(redis, queue).status(f"{queue}-{lane}") == JobStatus.QUEUED
    later = f"{queue}-later"
    await Queue(redis, queue, result_ttl=60).enqueue_many(
        [NewJob(_upload(), later, defer_by=3600, priority="bulk")]
    )
    assert await Queue(redis, queue).status(later) == JobStatus.DEFERRED
    claim = await _worker(redis, queue).claim(1, FAR)
    assert [c.job_id for c in claim.run] == [f"{queue}-high"]
    assert await Queue(redis, queue).status(f"{queue}-high") == JobStatus.IN_PROGRESS


async def test_a_retry_of_a_high_job_goes_back_into_the_high_lane(redis: Redis, queue: str) -> None:
    """Claimed from high, renewed and retried: its score stays in high, never in arq's queue."""
    await _enqueue(redis, queue, ["h"], "high")
    h = f"{queue}-h"
    keys = QueueKeys(queue)
    q = _worker(redis, queue)
    now = 2 * 10**12
    (claimed,) = (await q.claim(1, now)).run
    assert await q.renew([h], now + 5_000) == []
    assert await redis.zscore(keys.lane("high"), h) == now + 15_000  # the lease's deadline
    await q.retry(h, score=claimed.score, delay_ms=5000, lane=q.leases.lane_of(h))
    assert await redis.zscore(keys.lane("high"), h) == claimed.score + 5000
    assert await redis.zscore(keys.queue, h) is None
    # Its next attempt finishes: it leaves the high lane.
    await redis.delete(keys.in_progress(h))
    q = _worker(redis, queue, "w2")
    (again,) = (await q.claim(1, FAR)).run
    assert (again.lane, again.job_try) == ("high", 2)
    await q.finish([Finish(h, True, result_data=b"{}", lane=q.leases.lane_of(h))])
    assert await redis.zscore(keys.lane("high"), h) is None


async def test_queue_info_counts_each_lane(redis: Redis, queue: str) -> None:
    """``storage-jobs queue --json``'s counts: sums of the lanes, and each lane's own."""
    await _enqueue(redis, queue, ["h1", "h2"], "high")
    await _enqueue(redis, queue, ["n1"], None)
    await _enqueue(redis, queue, ["b1", "b2", "b3"], "bulk")
    await _worker(redis, queue).claim(1, 2**41)  # h1 runs
    data = (await queue_info(redis, queue)).as_dict()
    assert data["depth"] == 5 and data["in_progress"] == 1 and data["total"] == 6
    assert {k: (v["depth"], v["in_progress"]) for k, v in data["lanes"].items()} == {
        "high": (1, 1),
        "normal": (1, 0),
        "bulk": (3, 0),
    }


async def test_a_bad_priority_is_refused_before_redis_is_touched(queue: str) -> None:
    """Anything but high/normal/bulk: ValueError, and no command reaches Redis."""

    class NoRedis:
        def register_script(self, script: str) -> object:
            return object()

        def pipeline(self, **_: object) -> object:
            raise AssertionError("Redis touched")

    q = Queue(NoRedis(), queue, result_ttl=60)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="priority must be one of"):
        await q.enqueue_many([NewJob(_upload(), priority="urgent")])  # type: ignore[arg-type]


async def test_a_replay_puts_the_job_back_into_its_lane(redis: Redis, queue: str) -> None:
    """A dead letter of a bulk job is replayed into bulk."""
    store = DeadLetterStore(redis, queue)
    job = _upload()
    d = f"{queue}-d"
    await store.add(
        job_id=d,
        function="storage_jobs.upload",
        raw_payload=job.model_dump_json().encode(),
        error_type="JobFailed",
        message="boom",
        priority="bulk",
    )
    assert await store.replay(d, limits=JobLimits(), result_ttl=60)
    keys = QueueKeys(queue)
    assert await redis.zscore(keys.lane("bulk"), d) is not None
    assert await redis.zscore(keys.queue, d) is None


async def test_the_claim_takes_no_more_bulk_jobs_than_its_bulk_slots(
    redis: Redis, queue: str
) -> None:
    """Bulk capped at 2: 4 slots take 2 bulk jobs and say bulk jobs were left; normal ones fill."""
    await _enqueue(redis, queue, [f"b{i}" for i in range(10)], "bulk")
    q = _worker(redis, queue)
    claim = await q.claim(4, FAR, bulk=2)
    assert [c.lane for c in claim.run] == ["bulk", "bulk"]
    assert claim.bulk_capped
    await _enqueue(redis, queue, ["n0", "n1"], None)
    claim = await q.claim(3, FAR, bulk=0)  # bulk slots full: only normal is taken
    assert [_name(queue, c.job_id) for c in claim.run] == ["n0", "n1"]
    assert claim.bulk_capped


async def test_an_uncapped_claim_or_a_bulk_lane_drained_is_not_capped(
    redis: Redis, queue: str
) -> None:
    """No cap, or a cap the due bulk jobs fit under: nothing was left for the cap."""
    await _enqueue(redis, queue, [f"b{i}" for i in range(3)], "bulk")
    q = _worker(redis, queue)
    claim = await q.claim(2, FAR)
    assert len(claim.run) == 2 and not claim.bulk_capped
    claim = await q.claim(4, FAR, bulk=3)
    assert [_name(queue, c.job_id) for c in claim.run] == ["b2"]
    assert not claim.bulk_capped
    claim = await q.claim(4, FAR, bulk=0)  # none due: none left for the cap
    assert len(claim) == 0 and not claim.bulk_capped


async def test_the_bulk_share_slot_respects_the_cap(redis: Redis, queue: str) -> None:
    """The call that reserves its first slot for bulk takes none when the bulk slots are full."""
    await _enqueue(redis, queue, [f"h{i}" for i in range(20)], "high")
    await _enqueue(redis, queue, ["b0"], "bulk")
    q = _worker(redis, queue)
    q.leases.calls = SHARE_EVERY - 1  # the next call reserves its first slot for bulk
    assert reserved_lane(q.leases.calls) == 3
    claim = await q.claim(1, FAR, bulk=0)
    assert [c.lane for c in claim.run] == ["high"]
    assert claim.bulk_capped
