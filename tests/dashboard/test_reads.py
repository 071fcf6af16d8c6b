"""The read side on fakeredis: stale workers, filtered dead letters, kind-filtered pages."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from storage_jobs.dashboard._reads import IN_PROGRESS_CHECKED, Reader
from storage_jobs.jobs import CopyJob, UploadJob, spec_for_job
from storage_jobs.queue import (
    DeadLetterStore,
    Heartbeat,
    Queue,
    QueueKeys,
    build_envelope,
    write_heartbeat,
)
from storage_jobs.settings import Settings


@pytest.fixture
def reader(fake_redis: Redis) -> Reader:
    return Reader(Queue(fake_redis, "q"), Settings(queue_name="q", health_check_interval=5))


async def test_a_worker_silent_for_three_intervals_is_stale(
    fake_redis: Redis, reader: Reader
) -> None:
    now = time.time()
    for worker_id, age in (("fresh", 1.0), ("silent", 16.0)):
        beat = Heartbeat(worker_id=worker_id, heartbeat_at=now - age, version="1.2.3")
        await write_heartbeat(fake_redis, "q", beat, ttl=3600)
    page = await reader.workers()
    assert [(w.worker_id, w.stale, w.version) for w in page.workers] == [
        ("fresh", False, "1.2.3"),
        ("silent", True, "1.2.3"),
    ]
    overview = await reader.overview(actions_enabled=False)
    assert [w.worker_id for w in overview.workers] == ["fresh"]


async def test_dead_letters_filter_by_kind_and_error_type(
    fake_redis: Redis, reader: Reader
) -> None:
    store = DeadLetterStore(fake_redis, "q")
    for i, (function, error) in enumerate(
        [
            ("storage_jobs.copy", "NotFound"),
            ("storage_jobs.upload", "NotFound"),
            ("storage_jobs.copy", "AccessDenied"),
            (None, "InvalidPayload"),
        ]
    ):
        await store.add(
            job_id=f"d{i}", function=function, raw_payload=b"{}", error_type=error, message="m"
        )
    copies = await reader.dead_letters("copy", None, 0, 50)
    assert sorted(r.job_id for r in copies.rows) == ["d0", "d2"] and copies.window == 4
    denied = await reader.dead_letters("copy", "AccessDenied", 0, 50)
    assert [r.job_id for r in denied.rows] == ["d2"]
    everything = await reader.dead_letters(None, None, 0, 3)
    assert everything.total == 4 and len(everything.rows) == 3 and everything.next_offset == 3


async def test_kind_filtered_jobs_pages(fake_redis: Redis, reader: Reader) -> None:
    """Every third job a copy: pages of two copies resume where the last one stopped."""
    # fakeredis has no Lua, so jobs are written as the enqueue primitive writes them.
    for i in range(9):
        job = (
            CopyJob(src_bucket="media", src_key=f"c{i}", dst_key="d")
            if i % 3 == 0
            else UploadJob(bucket="media", key=f"u{i}", data=b"x")
        )
        envelope = build_envelope(spec_for_job(job).function_name, job.model_dump_json(), 0)
        await fake_redis.set(QueueKeys.job(f"j{i}"), envelope)
        await fake_redis.zadd("q", {f"j{i}": 1000 + i})
    page = await reader.jobs("queued", "copy", 0, 2)
    assert [r.job_id for r in page.rows] == ["j0", "j3"] and page.next_offset == 4
    rest = await reader.jobs("queued", "copy", page.next_offset or 0, 2)
    assert [r.job_id for r in rest.rows] == ["j6"] and rest.next_offset is None


async def test_overview_says_paused_and_counts_each_finished_status(
    fake_redis: Redis, reader: Reader
) -> None:
    keys = QueueKeys("q")
    await fake_redis.set(keys.paused, "1")
    for state, n in (("complete", 3), ("failed", 2), ("cancelled", 1)):
        await fake_redis.zadd(keys.finished(state), {f"{state}-{i}": i for i in range(n)})
    (queue,) = (await reader.overview(actions_enabled=True)).queues
    assert queue.paused
    assert (queue.finished.complete, queue.finished.failed, queue.finished.cancelled) == (3, 2, 1)
    await fake_redis.delete(keys.paused)
    assert not (await reader.overview(actions_enabled=True)).queues[0].paused


async def test_a_prefix_jobs_progress_carries_its_pause_and_cancel_flags(
    fake_redis: Redis, reader: Reader
) -> None:
    for job_id in ("running", "paused", "cancelling"):
        await fake_redis.zadd(QueueKeys("q").prefix_jobs, {job_id: time.time()})
    await fake_redis.set(QueueKeys.job_paused("paused"), "1")
    await fake_redis.set(QueueKeys.cancel("cancelling"), "1")
    page = await reader.prefix_jobs(0, 20)
    flags = {r.migration_id: (r.pause_requested, r.cancel_requested) for r in page.rows}
    assert flags == {
        "running": (False, False),
        "paused": (True, False),
        "cancelling": (False, True),
    }
    assert (await reader.prefix_job("paused")).pause_requested


async def test_overview_has_a_row_per_lane_and_queued_pages_span_lanes(
    fake_redis: Redis, reader: Reader
) -> None:
    """Two high, one normal, three bulk: a row per lane; queued pages go high first."""
    keys = QueueKeys("q")
    await fake_redis.zadd(keys.lane("high"), {"h1": 1000, "h2": 1001})
    await fake_redis.zadd(keys.lane("normal"), {"n1": 900})
    await fake_redis.zadd(keys.lane("bulk"), {"b1": 800, "b2": 801, "b3": 802})
    (queue,) = (await reader.overview(actions_enabled=False)).queues
    assert queue.counts.ready == 6
    assert {name: lane.ready for name, lane in queue.lanes.items()} == {
        "high": 2,
        "normal": 1,
        "bulk": 3,
    }
    first = await reader.jobs("queued", None, 0, 4)
    assert [r.job_id for r in first.rows] == ["h1", "h2", "n1", "b1"]
    rest = await reader.jobs("queued", None, 4, 4)
    assert [r.job_id for r in rest.rows] == ["b2", "b3"]


async def test_running_jobs_are_in_progress_on_the_overview_and_not_deferred(
    fake_redis: Redis, reader: Reader
) -> None:
    """A busy queue: more ready jobs than are checked; running ones scored at their deadline."""
    keys = QueueKeys("q")
    now_ms = int(time.time() * 1000)
    ready = IN_PROGRESS_CHECKED + 50
    await fake_redis.zadd("q", {f"ready-{i:05d}": now_ms - 60_000 + i for i in range(ready)})
    await fake_redis.zadd(keys.lane("bulk"), {"later": now_ms + 3_600_000})
    for job_id in ("running-1", "running-2"):  # as the claim leaves them
        await fake_redis.zadd("q", {job_id: now_ms + 10_000})
        await fake_redis.set(QueueKeys.in_progress(job_id), b"w1", px=60_000)
    (queue,) = (await reader.overview(actions_enabled=False)).queues
    counts = queue.counts
    assert (counts.ready, counts.in_progress, counts.deferred) == (ready, 2, 1)
    assert (queue.lanes["normal"].in_progress, queue.lanes["normal"].deferred) == (2, 0)
    deferred = await reader.jobs("deferred", None, 0, 50)
    assert [r.job_id for r in deferred.rows] == ["later"] and deferred.total == 1
    queued = await reader.jobs("queued", None, 0, 50)
    assert queued.total == counts.ready
