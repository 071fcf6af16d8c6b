"""The clients' schedules: typed records back, bad input refused before Redis, sync twins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage_jobs.client import ScheduleRecord, StorageJobsClient, SyncStorageJobsClient
from storage_jobs.jobs import DeleteJob, JobRejectedError, UploadJob
from storage_jobs.settings import Settings

pytestmark = pytest.mark.integration

JOB = DeleteJob(bucket="bkt-a", keys=["tmp/a"])
TOO_BIG = UploadJob(bucket="bkt-a", key="k", data=b"x" * 2048)  # the fixture's cap is 1 KiB


async def test_schedule_returns_the_typed_record_and_unschedule_removes_it(
    client: StorageJobsClient,
) -> None:
    before = datetime.now(UTC)
    record = await client.schedule("hourly", JOB, every=timedelta(hours=1), priority="bulk")
    assert isinstance(record, ScheduleRecord)
    assert (record.name, record.kind, record.spec, record.paused) == (
        "hourly",
        "delete",
        "every 3600s",
        False,
    )
    assert (record.runs, record.skipped, record.missed, record.last_tick) == (0, 0, 0, None)
    assert record.next_tick is not None
    assert timedelta(minutes=59) < record.next_tick - before <= timedelta(hours=1, seconds=1)
    assert record.job == JOB and record.priority == "bulk" and record.overlap == "skip"
    nightly = await client.schedule("nightly", JOB, cron="0 3 * * *", timezone="Asia/Tokyo")
    assert nightly.next_tick is not None and nightly.next_tick.hour == 18  # 03:00 JST in UTC
    assert [s.name for s in await client.schedules()] == ["hourly", "nightly"]
    assert await client.pause_schedule("nightly") and not await client.pause_schedule("nightly")
    assert await client.resume_schedule("nightly") and not await client.resume_schedule("nightly")
    assert await client.unschedule("hourly") and not await client.unschedule("hourly")
    assert [s.name for s in await client.schedules()] == ["nightly"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"every": 60, "cron": "* * * * *"}, ValueError, "exactly one"),
        ({}, ValueError, "exactly one"),
        ({"every": 0}, ValueError, "> 0"),
        ({"every": -1}, ValueError, "> 0"),
        ({"cron": "0 25 * * *"}, ValueError, "croniter"),
        ({"cron": "0 3 * * *", "timezone": "Europe/Nowhere"}, ValueError, "time zone"),
        ({"every": 60, "name": "no spaces"}, ValueError, "schedule's name"),
        ({"every": 60, "priority": "urgent"}, ValueError, "priority"),
        ({"every": 60, "overlap": "sometimes"}, ValueError, "overlap"),
        ({"every": 60, "job": "not a job"}, TypeError, "not a storage job"),
        ({"every": 60, "job": TOO_BIG}, JobRejectedError, None),
    ],
)
async def test_bad_input_is_refused_before_redis_is_touched(
    client: StorageJobsClient, kwargs: dict[str, Any], error: type[Exception], message: str | None
) -> None:
    name = kwargs.pop("name", "bad")
    job = kwargs.pop("job", JOB)
    with pytest.raises(error, match=message):
        await client.schedule(name, job, **kwargs)
    assert await client.schedules() == []


def test_the_sync_client_has_the_same_methods(settings: Settings) -> None:
    with SyncStorageJobsClient(settings=settings) as jobs:
        record = jobs.schedule("sync", JOB, every=30, overlap="queue")
        assert record.overlap == "queue" and record.spec == "every 30s"
        with pytest.raises(ValueError, match="at least 1 s"):
            jobs.schedule("sync", JOB, every=0.2)
        assert [s.name for s in jobs.schedules()] == ["sync"]
        assert jobs.pause_schedule("sync") and jobs.resume_schedule("sync")
        assert jobs.unschedule("sync") and jobs.schedules() == []
