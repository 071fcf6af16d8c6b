"""Priority lanes: the claim takes high, normal, bulk in order, with a stated share below."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import cast

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import JobLimits, UploadJob
from storage_jobs.queue import (
    Control,
    DeadLetterStore,
    Enqueuer,
    JobStatus,
    NewJob,
    Priority,
    QueueKeys,
    queue_info,
    read_status,
)
from storage_jobs.worker._finisher import Finish, Finisher
from storage_jobs.worker._leases import SHARE_EVERY, Leases, reserved_lane

pytestmark = pytest.mark.integration

FAR = 2**50  # a "now" past every score


def _upload(key: str = "k") -> UploadJob:
    return UploadJob(bucket="bkt", key=key, data=b"x")


async def _enqueue(redis: Redis, queue: str, ids: list[str], priority: Priority | None) -> None:
    """Enqueues jobs named ``ids`` (their job ids are ``<queue>-<name>``: ids are global)."""
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
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
    claim = await Leases(queue, "w1", 10).claim(redis, 3, FAR)
    assert [(_name(queue, c.job_id), c.lane) for c in claim.run] == [
        ("h", "high"),
        ("b0", "bulk"),
        ("b1", "bulk"),
    ]


async def test_lower_lanes_get_their_share_under_a_high_backlog(redis: Redis, queue: str) -> None:
    """A high backlog larger than the slots: over 80 one-slot claims, bulk gets 1 in 8."""
    await _enqueue(redis, queue, [f"h{i}" for i in range(200)], "high")
    await _enqueue(redis, queue, [f"n{i}" for i in range(50)], None)
    await _enqueue(redis, queue, [f"b{i}" for i in range(50)], "bulk")
    leases = Leases(queue, "w1", 10)
    taken: list[str] = []
    for _ in range(80):
        claim = await leases.claim(redis, 1, FAR)
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
    leases = Leases(queue, "w1", 10)
    lanes = [c.lane for _ in range(8) for c in (await leases.claim(redis, 1, FAR)).run]
    assert lanes == ["high"] * 8


async def test_cancel_of_queued_high_and_bulk_jobs(redis: Redis, queue: str) -> None:
    """A queued job of any lane is taken off its lane and reads as cancelled."""
    await _enqueue(redis, queue, ["h"], "high")
    await _enqueue(redis, queue, ["b"], "bulk")
    keys = QueueKeys(queue)
    h, b = f"{queue}-h", f"{queue}-b"
    assert await Control(redis, queue, 60).cancel([h, b, f"{queue}-x"]) == [True, True, False]
    assert await redis.zcard(keys.lane("high")) == 0
    assert await redis.zcard(keys.lane("bulk")) == 0
    assert await read_status(redis, queue, h) == JobStatus.CANCELLED
    assert await read_status(redis, queue, b) == JobStatus.CANCELLED
    assert len(await Leases(queue, "w1", 10).claim(redis, 5, FAR)) == 0


async def test_status_by_id_reads_every_lane(redis: Redis, queue: str) -> None:
    """A job queued in any lane reads as queued; deferred in bulk as deferred."""
    for lane in ("high", "normal", "bulk"):
        await _enqueue(redis, queue, [lane], lane)
        assert await read_status(redis, queue, f"{queue}-{lane}") == JobStatus.QUEUED
    later = f"{queue}-later"
    await Enqueuer(redis, queue, result_ttl=60).enqueue(
        [NewJob(_upload(), later, defer_by=3600, priority="bulk")]
    )
    assert await read_status(redis, queue, later) == JobStatus.DEFERRED
    claim = await Leases(queue, "w1", 10).claim(redis, 1, FAR)
    assert [c.job_id for c in claim.run] == [f"{queue}-high"]
    assert await read_status(redis, queue, f"{queue}-high") == JobStatus.IN_PROGRESS


async def test_a_retry_of_a_high_job_goes_back_into_the_high_lane(redis: Redis, queue: str) -> None:
    """Claimed from high, renewed and retried: its score stays in high, never in arq's queue."""
    await _enqueue(redis, queue, ["h"], "high")
    h = f"{queue}-h"
    keys = QueueKeys(queue)
    leases = Leases(queue, "w1", 10)
    now = 2 * 10**12
    (claimed,) = (await leases.claim(redis, 1, now)).run
    assert await leases.renew(redis, [h], now + 5_000) == []
    assert await redis.zscore(keys.lane("high"), h) == now + 15_000  # the lease's deadline
    finisher = Finisher(lambda: redis, queue)
    await finisher.finish(
        Finish(h, False, incr_score=5000, score=claimed.score, lane=leases.lane_of(h))
    )
    assert await redis.zscore(keys.lane("high"), h) == claimed.score + 5000
    assert await redis.zscore(keys.queue, h) is None
    # Its next attempt finishes: it leaves the high lane.
    await redis.delete(keys.in_progress(h))
    leases = Leases(queue, "w2", 10)
    (again,) = (await leases.claim(redis, 1, FAR)).run
    assert (again.lane, again.job_try) == ("high", 2)
    await finisher.finish(Finish(h, True, result_data=b"{}", lane=leases.lane_of(h)))
    assert await redis.zscore(keys.lane("high"), h) is None


async def test_queue_info_counts_each_lane(redis: Redis, queue: str) -> None:
    """``storage-jobs queue --json``'s counts: sums of the lanes, and each lane's own."""
    await _enqueue(redis, queue, ["h1", "h2"], "high")
    await _enqueue(redis, queue, ["n1"], None)
    await _enqueue(redis, queue, ["b1", "b2", "b3"], "bulk")
    await Leases(queue, "w1", 10).claim(redis, 1, 2**41)  # h1 runs
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

    enqueuer = Enqueuer(NoRedis(), queue, result_ttl=60)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="priority must be one of"):
        await enqueuer.enqueue([NewJob(_upload(), priority="urgent")])  # type: ignore[arg-type]


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
    leases = Leases(queue, "w1", 10)
    claim = await leases.claim(redis, 4, FAR, bulk=2)
    assert [c.lane for c in claim.run] == ["bulk", "bulk"]
    assert claim.bulk_capped
    await _enqueue(redis, queue, ["n0", "n1"], None)
    claim = await leases.claim(redis, 3, FAR, bulk=0)  # bulk slots full: only normal is taken
    assert [_name(queue, c.job_id) for c in claim.run] == ["n0", "n1"]
    assert claim.bulk_capped


async def test_an_uncapped_claim_or_a_bulk_lane_drained_is_not_capped(
    redis: Redis, queue: str
) -> None:
    """No cap, or a cap the due bulk jobs fit under: nothing was left for the cap."""
    await _enqueue(redis, queue, [f"b{i}" for i in range(3)], "bulk")
    leases = Leases(queue, "w1", 10)
    claim = await leases.claim(redis, 2, FAR)
    assert len(claim.run) == 2 and not claim.bulk_capped
    claim = await leases.claim(redis, 4, FAR, bulk=3)
    assert [_name(queue, c.job_id) for c in claim.run] == ["b2"]
    assert not claim.bulk_capped
    claim = await leases.claim(redis, 4, FAR, bulk=0)  # none due: none left for the cap
    assert len(claim) == 0 and not claim.bulk_capped


async def test_the_bulk_share_slot_respects_the_cap(redis: Redis, queue: str) -> None:
    """The call that reserves its first slot for bulk takes none when the bulk slots are full."""
    await _enqueue(redis, queue, [f"h{i}" for i in range(20)], "high")
    await _enqueue(redis, queue, ["b0"], "bulk")
    leases = Leases(queue, "w1", 10)
    leases.calls = SHARE_EVERY - 1  # the next call reserves its first slot for bulk
    assert reserved_lane(leases.calls) == 3
    claim = await leases.claim(redis, 1, FAR, bulk=0)
    assert [c.lane for c in claim.run] == ["high"]
    assert claim.bulk_capped


async def test_a_bulk_job_ending_while_bulk_jobs_wait_wakes_the_worker(
    redis: Redis, queue: str
) -> None:
    """Bulk takes the free slots less the reserved ones (one while none runs); an end wakes."""
    from storage_jobs.settings import Settings
    from storage_jobs.worker import build_worker

    assert build_worker(Settings(queue_name=queue, reserved_slots=0))._bulk_allowed(3) is None
    worker = build_worker(Settings(queue_name=queue, max_jobs=4, reserved_slots=1))
    assert [worker._bulk_allowed(free) for free in (4, 2, 1)] == [3, 1, 1]
    worker._pool = redis
    wake = QueueKeys(queue).wake
    worker._bulk_running = 2
    assert [worker._bulk_allowed(free) for free in (2, 1)] == [1, 0]
    worker._job_ended(True)  # no bulk job waits: nothing to wake
    assert not worker._wakes and worker._bulk_running == 1
    worker._bulk_capped = True
    worker._job_ended(False)  # any job's end frees a slot the bulk jobs may get
    await asyncio.gather(*list(worker._wakes))
    assert await cast(Awaitable[list[bytes]], redis.lrange(wake, 0, -1)) == [b"1"]
    assert worker._bulk_running == 1 and not worker._bulk_capped
