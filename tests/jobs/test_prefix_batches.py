"""Batches of prefix jobs against moto, with their progress in a real Redis (its Lua scripts).

What a batch records: a verified copy's report line, the failure threshold and a cancel in a
migration of every version, and a sync that never deletes past ``max_delete``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from storage_jobs.errors import TooManyDeletesError
from storage_jobs.jobs import JobCancelled, MigrateBatchJob, MigrateJob, ObjectRef
from storage_jobs.jobs._migrate import run_migrate_batch
from storage_jobs.jobs._migrate_sync import delete_extraneous
from storage_jobs.jobs._state import ProgressStore
from storage_jobs.storage import ObjectInfo, StorageAccessDeniedError, StorageClient
from tests.jobs.conftest import RecordingLog, make_ctx

pytestmark = pytest.mark.integration


async def report(store: ProgressStore) -> list[dict[str, Any]]:
    return [json.loads(line) async for chunk in store.iter_records() for line in chunk]


def batch_of(spec: MigrateJob, migration_id: str, objects: list[ObjectRef]) -> MigrateBatchJob:
    return MigrateBatchJob(migration_id=migration_id, batch=1, spec=spec, objects=objects)


class Cancelled:
    """A job an operator cancelled: every safe point says so."""

    async def cancelled(self) -> bool:
        return True

    async def paused(self) -> bool:
        return False

    async def cancel(self, job_ids: Any) -> None:
        return None

    async def unfinished(self, job_ids: Any) -> list[str]:
        return []


async def test_a_verified_copy_is_reported_verified(
    moto_client: StorageClient, moto_bucket: str, redis: Redis, recording_log: RecordingLog
) -> None:
    """With verify, the report names the outcome (``verified``), as it does a ``mismatch``."""
    for name in ("a", "b"):
        await moto_client.put_bytes(bucket=moto_bucket, key=f"s/{name}", data=name.encode() * 50)
    spec = MigrateJob(
        src_bucket=moto_bucket,
        src_prefix="s/",
        dst_bucket=moto_bucket,
        dst_prefix="d/",
        verify=True,
        report="all",
    )
    ctx = make_ctx(moto_client, redis, recording_log)
    objects = [ObjectRef(key="s/a"), ObjectRef(key="s/b")]
    result = await run_migrate_batch(batch_of(spec, ctx.job_id, objects), ctx)
    assert (result.done, result.verified) == (2, 2)
    store = ctx.state.progress(ctx.job_id)
    assert {(line["key"], line["status"]) for line in await report(store)} == {
        ("d/a", "verified"),
        ("d/b", "verified"),
    }
    assert (await store.read()).verified == 2


async def denied_versions(
    client: StorageClient, bucket: str, count: int, monkeypatch: pytest.MonkeyPatch, **fields: Any
) -> tuple[MigrateJob, list[ObjectRef], list[str]]:
    """A migration of every version of ``count`` keys whose every copy is denied.

    Returns:
        The job, its objects (one version each) and the source keys whose copy was tried.
    """
    await client.s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    refs = []
    for i in range(count):
        info = await client.put_bytes(bucket=bucket, key=f"v/{i:03d}", data=b"x")
        refs.append(ObjectRef(key=info.key, size=1, etag=info.etag, version_id=info.version_id))
    denied: list[str] = []

    async def copy_object(**kwargs: Any) -> ObjectInfo:
        denied.append(kwargs["src_key"])
        raise StorageAccessDeniedError("denied", bucket=kwargs["src_bucket"])

    monkeypatch.setattr(client, "copy_object", copy_object)
    spec = MigrateJob(
        src_bucket=bucket,
        src_prefix="v/",
        dst_bucket=bucket,
        dst_prefix="w/",
        all_versions=True,
        **fields,
    )
    return spec, refs, denied


async def test_all_versions_stop_at_the_failure_threshold(
    moto_client: StorageClient,
    moto_bucket: str,
    redis: Redis,
    recording_log: RecordingLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every copy denied: the batch stops a few versions past the threshold, not after 200."""
    spec, refs, denied = await denied_versions(
        moto_client,
        moto_bucket,
        200,
        monkeypatch,
        max_failure_ratio=0.5,
        min_tasks_before_threshold=20,
    )
    ctx = make_ctx(moto_client, redis, recording_log)
    result = await run_migrate_batch(batch_of(spec, ctx.job_id, refs), ctx)
    progress = await ctx.state.progress(ctx.job_id).read()
    assert progress.stopped == "failure_threshold"
    # The versions in flight when it crossed finish; no other starts (8 keys at a time).
    assert 20 <= progress.failed == result.failed == len(denied) <= 20 + 8


async def test_all_versions_stop_at_a_cancel(
    moto_client: StorageClient,
    moto_bucket: str,
    redis: Redis,
    recording_log: RecordingLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cancelled migration of every version copies nothing more at its next safe point."""
    spec, refs, denied = await denied_versions(moto_client, moto_bucket, 10, monkeypatch)
    ctx = replace(make_ctx(moto_client, redis, recording_log), control=Cancelled())
    with pytest.raises(JobCancelled):
        await run_migrate_batch(batch_of(spec, ctx.job_id, refs), ctx)
    assert denied == []


async def test_keys_written_after_the_count_never_take_a_sync_past_max_delete(
    moto_client: StorageClient,
    moto_bucket: str,
    redis: Redis,
    recording_log: RecordingLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3 extraneous keys when counted (max_delete=4), 6 when deleted: 4 go, then it fails."""
    extra = [f"d/x{i}" for i in range(6)]
    for key in extra:
        await moto_client.put_bytes(bucket=moto_bucket, key=key, data=b"x")
    walks: list[int] = []

    def walk(*args: Any, **kwargs: Any) -> AsyncIterator[ObjectInfo]:
        walks.append(1)
        found = extra[:3] if len(walks) == 1 else extra

        async def objects() -> AsyncIterator[ObjectInfo]:
            for key in found:
                yield ObjectInfo(bucket=moto_bucket, key=key, size=1, etag="e")

        return objects()

    monkeypatch.setattr("storage_jobs.jobs._migrate_sync.iter_extraneous", walk)
    job = MigrateJob(
        src_bucket=moto_bucket,
        src_prefix="s/",
        dst_bucket=moto_bucket,
        dst_prefix="d/",
        delete_extraneous=True,
        max_delete=4,
    )
    ctx = make_ctx(moto_client, redis, recording_log)
    store = ctx.state.progress(ctx.job_id)
    with pytest.raises(TooManyDeletesError) as info:
        await delete_extraneous(ctx, store, job, moto_client, skip_prefix=None)
    assert (info.value.count, info.value.deleted) == (6, 4)
    assert "deleted 4 and stopped" in str(info.value)
    left = await moto_client.list_files(bucket=moto_bucket, prefix="d/")
    assert len(left) == 2
    assert (await store.read()).extraneous_deleted == 4
