"""Versioned buckets on SeaweedFS (which supports PutBucketVersioning and ListObjectVersions)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import SeaweedFS
from storage_jobs.jobs import DeletePrefixJob, MigrateJob
from storage_jobs.storage import StorageClient
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


def versions_of(s3: Any, bucket: str, prefix: str) -> dict[str, list[tuple[str, bool, bool]]]:
    """Key -> [(version id, is latest, is delete marker)], newest first.

    Among versions written in the same second, the latest comes first.
    """
    answer = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    out: dict[str, list[tuple[str, bool, bool, Any]]] = {}
    for v in answer.get("Versions", []):
        out.setdefault(v["Key"], []).append(
            (v["VersionId"], v["IsLatest"], False, v["LastModified"])
        )
    for m in answer.get("DeleteMarkers", []):
        out.setdefault(m["Key"], []).append(
            (m["VersionId"], m["IsLatest"], True, m["LastModified"])
        )
    return {
        k: [
            (vid, latest, marker)
            for vid, latest, marker, _ in sorted(vs, key=lambda x: (x[3], x[1]), reverse=True)
        ]
        for k, vs in out.items()
    }


async def test_all_versions_copied_oldest_first_then_deleted_with_markers(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
) -> None:
    """Three versions, a delete marker, a plain key: copied in order; then every version deleted."""
    s3 = seaweedfs.client()
    src, dst = f"ver-{uuid.uuid4().hex[:10]}", f"ver-{uuid.uuid4().hex[:10]}"
    for name in (src, dst):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    history = [b"one", b"two-two", b"three-three-three"]
    for body in history:
        s3.put_object(Bucket=src, Key="h/a", Body=body)
        await asyncio.sleep(1.1)  # versions one second apart: S3 times have that resolution
    s3.put_object(Bucket=src, Key="h/b", Body=b"before the marker")
    await asyncio.sleep(1.1)
    s3.delete_object(Bucket=src, Key="h/b")
    s3.put_object(Bucket=src, Key="h/c", Body=b"only")
    await start_in_process()

    job = MigrateJob(
        src_bucket=src,
        src_prefix="h/",
        dst_bucket=dst,
        dst_prefix="copy/",
        all_versions=True,
        report="all",
        batch_size=2,  # a's history spans listing pages and stays in one batch
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.listed, result.copied, result.failed) == (6, 6, 0)

    copied = versions_of(s3, dst, "copy/")
    a = copied["copy/a"]
    assert [latest for _, latest, _ in a] == [True, False, False]
    bodies = [
        s3.get_object(Bucket=dst, Key="copy/a", VersionId=vid)["Body"].read() for vid, _, _ in a
    ]
    assert bodies == history[::-1]  # newest first: the source's order, current last written
    assert [(latest, marker) for _, latest, marker in copied["copy/b"]] == [
        (True, True),
        (False, False),
    ]
    assert s3.get_object(Bucket=dst, Key="copy/c")["Body"].read() == b"only"

    assert result.report_bucket and result.report_key
    raw = await admin_storage.fetch_file(bucket=result.report_bucket, key=result.report_key)
    lines = [json.loads(line) for line in raw.splitlines()]
    source_versions = versions_of(s3, src, "h/")
    mapped = {
        line["src_version_id"]: line.get("version_id")
        for line in lines
        if line["status"] == "copied"
    }
    assert set(mapped) == {vid for vs in source_versions.values() for vid, _, m in vs if not m}
    dst_ids = {vid for vs in copied.values() for vid, _, _ in vs}
    assert set(mapped.values()) <= dst_ids and None not in mapped.values()

    delete = DeletePrefixJob(bucket=src, prefix="h/", all_versions=True)
    done = await (await jobs.enqueue(delete)).result(timeout=120)
    assert (done.listed, done.deleted, done.failed) == (6, 6, 0)
    assert versions_of(s3, src, "h/") == {}
