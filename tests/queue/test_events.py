"""Completion events on a real Redis: written by the finish scripts, read back resumably."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from storage_jobs.jobs import UploadJob
from storage_jobs.queue import (
    EXPIRED,
    Claimed,
    ErrorRecord,
    Finish,
    JobEvent,
    NewJob,
    Outcome,
    Queue,
    build_result,
    encode,
    event_data,
)

pytestmark = pytest.mark.integration

UPLOAD = "storage_jobs.upload"


def result_record(job_id: str, *, ok: bool = True, function: str = UPLOAD, tries: int = 1) -> bytes:
    """A result record as the worker writes it."""
    value = (
        {"kind": "upload", "bucket": "b", "key": job_id, "size": 3, "etag": "e"}
        if ok
        else {"error_type": "StorageAccessDeniedError", "code": "AccessDenied", "message": "no"}
    )
    return encode(
        {
            "t": tries,
            "f": function,
            "a": [],
            "k": {},
            "et": 1000,
            "s": ok,
            "r": value,
            "st": 2000,
            "ft": 3000,
            "q": "q",
            "id": job_id,
        }
    )


async def _claimed(
    redis: Redis, queue: str, count: int, **options: object
) -> tuple[Queue, list[Claimed]]:
    """``count`` upload jobs enqueued and claimed by one worker."""
    producer = Queue(redis, queue, **options)  # type: ignore[arg-type]
    items = [NewJob(UploadJob(bucket="bkt", key=f"k{i}", data=b"abc")) for i in range(count)]
    await producer.enqueue_many(items)
    worker = Queue(redis, queue, worker_id="w1", **options)  # type: ignore[arg-type]
    claim = await worker.claim(count, int(time.time() * 1000))
    assert len(claim.run) == count
    return worker, claim.run


def _finish(claimed: Claimed, result: bytes, outcome: Outcome = "success") -> Finish:
    return Finish(claimed.job_id, True, result, 60_000, outcome=outcome, score=claimed.score)


async def read_all(queue: Queue, since: str | None = None) -> list[JobEvent]:
    """Every event after ``since``, read 50 a shard at a time; a reader stuck fails here."""
    reader = queue.events(since)
    out: list[JobEvent] = []
    for _ in range(100):
        if not (got := await reader.read(50)):
            return out
        out += got
    raise AssertionError("the reader never caught up")


async def test_each_ended_job_adds_one_event_in_the_finish_call(redis: Redis, queue: str) -> None:
    """Complete and failed jobs add an event each; a retry adds none; the shape is the model's."""
    worker, (ok, bad, again) = await _claimed(redis, queue, 3)
    await worker.finish(
        [
            _finish(ok, result_record(ok.job_id)),
            _finish(bad, result_record(bad.job_id, ok=False), "failed"),
            Finish(again.job_id, False, score=again.score, outcome="retry"),
        ]
    )
    events = await read_all(worker)
    assert [(e.job_id, e.status) for e in events] == [
        (ok.job_id, "complete"),
        (bad.job_id, "failed"),
    ]
    done, failed = events
    assert (done.kind, done.attempt, done.enqueued_ms, done.started_ms, done.finished_ms) == (
        "upload", 1, 1000, 2000, 3000,
    )  # fmt: skip
    assert done.result == {
        "kind": "upload",
        "bucket": "b",
        "key": ok.job_id,
        "size": 3,
        "etag": "e",
    }
    assert done.error is None and failed.result is None
    assert failed.error is not None
    assert (failed.error.type, failed.error.code) == ("StorageAccessDeniedError", "AccessDenied")
    assert await redis.xlen(worker.keys.events) == 2


async def test_a_prefix_jobs_batches_emit_nothing(redis: Redis, queue: str) -> None:
    """A batch's finish writes its result but no event (its prefix job emits one when it ends)."""
    worker, (batch, coordinator) = await _claimed(redis, queue, 2)
    await worker.finish(
        [
            _finish(batch, result_record(batch.job_id, function="storage_jobs.migrate_batch")),
            _finish(
                coordinator, result_record(coordinator.job_id, function="storage_jobs.migrate")
            ),
        ]
    )
    assert [e.job_id for e in await read_all(worker)] == [coordinator.job_id]
    assert await redis.exists(worker.keys.result(batch.job_id))


async def test_events_off_write_no_stream(redis: Redis, queue: str) -> None:
    worker, (job,) = await _claimed(redis, queue, 1, events_maxlen=0)
    await worker.finish([_finish(job, result_record(job.job_id))])
    assert await redis.exists(worker.keys.result(job.job_id))
    assert not await redis.exists(worker.keys.events)


async def test_the_stream_is_trimmed_to_about_its_length(redis: Redis, queue: str) -> None:
    """``MAXLEN ~ 10`` over 250 events: whole nodes (100 entries) go, far fewer than 250 stay."""
    worker, claimed = await _claimed(redis, queue, 250, events_maxlen=10)
    await worker.finish([_finish(c, result_record(c.job_id)) for c in claimed])
    assert 10 <= await redis.xlen(worker.keys.events) <= 200


async def test_cancelled_jobs_emit_their_event_once(redis: Redis, queue: str) -> None:
    """Cancelled while queued (cancel.lua) or met by the claim (finish_cancelled.lua): one each."""
    q = Queue(redis, queue)
    (queued, _), (marked, _) = await q.enqueue_many(
        [NewJob(UploadJob(bucket="bkt", key="a", data=b"a")) for _ in range(2)]
    )
    assert await q.cancel([queued]) == [True]
    assert await q.cancel([queued]) == [False]  # cancelled already: no second event
    # The claim meets a job whose cancel marker is set: the worker finishes it as cancelled.
    await redis.set(q.keys.cancel(marked), "1", px=60_000)
    await redis.set(q.keys.control, "1", px=60_000)
    worker = Queue(redis, queue, worker_id="w1")
    now = int(time.time() * 1000)
    claim = await worker.claim(4, now)
    claim = claim if claim.cancelled else await worker.claim(4, now)  # the lookahead's miss
    assert claim.cancelled == [marked]
    await worker.finish_cancelled(marked)
    await worker.finish_cancelled(marked)  # repeated: counted and announced once
    events = await read_all(q)
    assert [(e.job_id, e.status, e.attempt) for e in events] == [
        (queued, "cancelled", 0),
        (marked, "cancelled", 0),
    ]
    assert all(e.error is not None and e.error.type == "JobCancelled" for e in events)


async def test_the_reader_resumes_after_any_event(redis: Redis, queue: str) -> None:
    worker, claimed = await _claimed(redis, queue, 5)
    await worker.finish([_finish(c, result_record(c.job_id)) for c in claimed[:3]])
    first = await read_all(worker)
    assert len(first) == 3
    assert [e.job_id for e in await read_all(worker, first[0].id)] == [
        c.job_id for c in claimed[1:3]
    ]
    assert await read_all(worker, first[-1].id) == []
    await worker.finish([_finish(c, result_record(c.job_id)) for c in claimed[3:]])
    assert [e.job_id for e in await read_all(worker, first[-1].id)] == [
        c.job_id for c in claimed[3:]
    ]
    with pytest.raises(ValueError, match="cursor"):
        worker.events("yesterday")


async def test_a_blocking_read_returns_at_the_first_event(redis: Redis, queue: str) -> None:
    worker, (job,) = await _claimed(redis, queue, 1)
    reader = worker.events()
    waiting = asyncio.ensure_future(reader.read(10, block_s=30))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await worker.finish([_finish(job, result_record(job.job_id))])
    events = await asyncio.wait_for(waiting, 10)
    assert [e.job_id for e in events] == [job.job_id]


async def test_a_sharded_queues_cursor_covers_every_shard(redis: Redis, queue: str) -> None:
    """Three shards: one merged read, and a composite id resumes on each shard at once."""
    worker, claimed = await _claimed(redis, queue, 30, shards=3)
    assert len({worker.layout.index(c.job_id) for c in claimed}) == 3
    await worker.finish([_finish(c, result_record(c.job_id)) for c in claimed[:20]])
    events = await read_all(worker)
    assert sorted(e.job_id for e in events) == sorted(c.job_id for c in claimed[:20])
    assert all(e.id is not None and e.id.count(",") == 2 for e in events)
    middle = events[9]
    rest = await read_all(worker, middle.id)
    assert [e.job_id for e in rest] == [e.job_id for e in events[10:]]
    await worker.finish([_finish(c, result_record(c.job_id)) for c in claimed[20:]])
    after = await read_all(worker, events[-1].id)
    assert sorted(e.job_id for e in after) == sorted(c.job_id for c in claimed[20:])
    with pytest.raises(ValueError, match="3 stream id"):
        worker.events(events[0].id.split(",")[0])  # type: ignore[union-attr]


async def test_the_claim_hands_back_a_job_past_its_expiry_unrun(redis: Redis, queue: str) -> None:
    """Expired before its first attempt: ``expired``, never ``run``; one in time still runs."""
    producer = Queue(redis, queue)
    (late, _), (fine, _) = await producer.enqueue_many(
        [
            NewJob(UploadJob(bucket="bkt", key="late", data=b"x"), expires=0.05),
            NewJob(UploadJob(bucket="bkt", key="fine", data=b"x"), expires=3600),
        ]
    )
    await asyncio.sleep(0.1)
    worker = Queue(redis, queue, worker_id="w1")
    claim = await worker.claim(4, int(time.time() * 1000))
    assert [c.job_id for c in claim.expired] == [late]
    assert [c.job_id for c in claim.run] == [fine]
    (expired,) = claim.expired
    record = build_result(
        job_id=late, queue=queue, function=UPLOAD, tries=0, enqueue_ms=1, start_ms=2,
        finish_ms=3, error=ErrorRecord(error_type=EXPIRED, message="expired"),
    )  # fmt: skip
    await worker.finish([_finish(expired, record, "expired")])
    assert (await worker.status(late)).value == "expired"
    (event,) = await read_all(worker)
    assert (event.job_id, event.status, event.attempt, event.started_ms) == (
        late,
        "expired",
        0,
        None,
    )


async def test_a_job_that_started_is_not_expired_on_its_retry(redis: Redis, queue: str) -> None:
    """Only a first attempt is checked: a retry of a started job runs after its expiry too."""
    producer = Queue(redis, queue)
    ((job_id, _),) = await producer.enqueue_many(
        [NewJob(UploadJob(bucket="bkt", key="k", data=b"x"), expires=0.3)]
    )
    worker = Queue(redis, queue, worker_id="w1")
    (first,) = (await worker.claim(1, int(time.time() * 1000))).run
    await worker.retry(job_id, score=first.score, delay_ms=0)
    await asyncio.sleep(0.4)
    claim = await worker.claim(1, int(time.time() * 1000))
    assert [c.job_id for c in claim.run] == [job_id] and claim.expired == []


def test_expires_must_come_after_defer_by() -> None:
    from storage_jobs.queue import Enqueuer  # noqa: F401 - the check runs before any write
    from storage_jobs.queue._enqueue import check_new_jobs

    job = UploadJob(bucket="bkt", key="k", data=b"x")
    with pytest.raises(ValueError, match="expires"):
        check_new_jobs([NewJob(job, defer_by=10, expires=5)], None)
    with pytest.raises(ValueError, match="expires"):
        check_new_jobs([NewJob(job, expires=0)], None)
    check_new_jobs([NewJob(job, defer_by=10, expires=11)], None)


def test_event_data_summarises_lists() -> None:
    """A result's lists become their lengths: an event stays small whatever the job did."""
    record = encode(
        {
            "t": 1,
            "f": "storage_jobs.delete",
            "a": [],
            "k": {},
            "et": 1,
            "s": True,
            "st": 2,
            "ft": 3,
            "r": {
                "kind": "delete",
                "bucket": "b",
                "deleted_count": 5,
                "failed": [{"key": "x", "code": "AccessDenied"}] * 3,
            },
        }
    )
    event = JobEvent.model_validate_json(event_data("j", record) or b"")
    assert event.result == {"kind": "delete", "bucket": "b", "deleted_count": 5, "failed": 3}
