"""Moves: each source deleted only once its copy is proven and it is still what was copied."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import MigrateJob
from storage_jobs.storage import StorageClient, StorageObjectNotFoundError
from tests.fixtures_e2e import (
    keys_left,
    put_many,
    put_multipart,
    report_of,
    run_cli,
    wait_until,
)
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


async def test_move_deletes_proven_sources_and_keeps_mismatched_ones(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """Proven by MD5 ETag or read back: moved; else the source stays, reported ``mismatch``.

    Mismatched: a copy that reads back wrong, and a source rewritten while its copy was in
    flight.
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    small = ["m/a.bin", "m/b.bin", "m/c.bin", "m/rewritten.bin"]
    await put_many(admin_storage, bucket, small, data=os.urandom(2000))
    for key in ("m/big-ok.bin", "m/big-bad.bin"):
        await put_multipart(admin_storage, bucket, key, os.urandom(MiB) * 6)
    # The copy of m/rewritten.bin is done upstream but its answer held, while the test rewrites
    # the source; m/big-bad.bin's copy reads back corrupted (its multipart ETag proves nothing).
    fault_proxy.rules = FaultRules(
        corrupt_get_paths=frozenset({f"/{dst}/m/big-bad.bin"}),
        methods=frozenset({"PUT"}),
        path_prefix=f"/{dst}/m/rewritten.bin",
        answer_delay_s=60,
    )
    await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_LEASE_SECONDS="20"
    )
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="m/",
        dst_bucket=dst,
        dst_prefix="m/",
        delete_source=True,
        report="all",
    )
    handle = await jobs.enqueue(job)

    async def copied_upstream() -> bool:
        try:
            await admin_storage.head_object(bucket=dst, key="m/rewritten.bin")
        except StorageObjectNotFoundError:
            return False
        return True

    await wait_until(copied_upstream, timeout=60)
    await admin_storage.upload_file(bucket=bucket, key="m/rewritten.bin", data=b"new bytes")
    fault_proxy.rules.answer_delay_s = 0  # the worker hears its copy succeeded

    result = await handle.result(timeout=120)
    assert (result.copied, result.moved, result.mismatch, result.failed) == (4, 4, 2, 2)
    assert await keys_left(admin_storage, bucket, "m/") == {"m/rewritten.bin", "m/big-bad.bin"}
    assert await admin_storage.fetch_file(bucket=bucket, key="m/rewritten.bin") == b"new bytes"
    assert len(await keys_left(admin_storage, dst, "m/")) == 6
    report = {line["key"]: line for line in await report_of(admin_storage, result)}
    assert {k: line["status"] for k, line in report.items()} == {
        "m/a.bin": "moved",
        "m/b.bin": "moved",
        "m/c.bin": "moved",
        "m/big-ok.bin": "moved",
        "m/big-bad.bin": "mismatch",
        "m/rewritten.bin": "mismatch",
    }
    assert report["m/big-bad.bin"]["error_code"] == "ChecksumMismatch"
    assert report["m/rewritten.bin"]["error_code"] == "SourceChanged"


async def test_move_command_reports_moved(
    start_in_process: StartInProcess,
    worker_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """``storage-jobs move --watch --json``: every source gone, every copy there, ``moved``."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    keys = [f"n/{i}.txt" for i in range(5)]
    await put_many(admin_storage, bucket, keys, data=b"payload")
    await start_in_process()
    run = await run_cli(worker_env, "move", f"{bucket}/n/", f"{dst}/o/", "--watch", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["copied"], result["moved"], result["failed"]) == (5, 5, 0)
    assert await keys_left(admin_storage, bucket, "n/") == set()
    assert await keys_left(admin_storage, dst, "o/") == {f"o/{i}.txt" for i in range(5)}


async def test_move_from_a_versioned_bucket_leaves_a_delete_marker(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    worker_env: dict[str, str],
    moto_endpoint: str,
    moto_client: StorageClient,
) -> None:
    """On moto (AWS's versioning): the key is gone from the source, each version kept."""
    src, dst = f"vsrc-{uuid.uuid4().hex[:10]}", f"vdst-{uuid.uuid4().hex[:10]}"
    for name in (src, dst):
        await moto_client.s3.create_bucket(Bucket=name)
    await moto_client.s3.put_bucket_versioning(
        Bucket=src, VersioningConfiguration={"Status": "Enabled"}
    )
    for data in (b"first", b"second"):
        await moto_client.upload_file(bucket=src, key="v/k", data=data)
    await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=moto_endpoint,
        STORAGE_JOBS_S3_ACCESS_KEY_ID="testing",
        STORAGE_JOBS_S3_SECRET_ACCESS_KEY="testing-secret",
    )
    job = MigrateJob(src_bucket=src, src_prefix="v/", dst_bucket=dst, delete_source=True)
    result = await (await jobs.enqueue(job)).result(timeout=60)
    assert (result.moved, result.failed) == (1, 0)
    assert await keys_left(moto_client, src, "v/") == set()
    assert await moto_client.fetch_file(bucket=dst, key="k") == b"second"
    listed = await moto_client.s3.list_object_versions(Bucket=src, Prefix="v/")
    assert len(listed.get("Versions", [])) == 2
    assert [m["IsLatest"] for m in listed.get("DeleteMarkers", [])] == [True]
