"""CRC32C end to end on SeaweedFS, which keeps S3's additional checksums.

Upload, copy, migrate with verify, a corrupted destination caught, manifest lines naming
versions.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules, SeaweedFS
from storage_jobs.jobs import CopyJob, DeletePrefixJob, Manifest, MigrateJob, UploadJob, VerifyJob
from storage_jobs.storage import StorageClient
from storage_jobs.storage._checksums import Hasher
from tests.fixtures_e2e import put_many, report_of
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def crc(data: bytes) -> str:
    return Hasher.of("crc32c", data).hexdigest()


def self_profile(seaweedfs: SeaweedFS) -> str:
    """A source profile naming the same server: migrations through it stream and re-upload."""
    return json.dumps(
        {
            "self": {
                "endpoint_url": seaweedfs.endpoint_url,
                "access_key_id": seaweedfs.access_key,
                "secret_access_key": seaweedfs.secret_key,
            }
        }
    )


async def test_crc32c_on_upload_copy_and_migration_with_verify(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """Each copy carries its source's CRC32C; SeaweedFS holds (and checked) the uploaded ones."""
    await start_in_process(
        STORAGE_JOBS_SOURCE_PROFILES=self_profile(seaweedfs),
        STORAGE_JOBS_S3_MULTIPART_THRESHOLD=str(5 * MiB),
        STORAGE_JOBS_S3_MULTIPART_CHUNKSIZE=str(5 * MiB),
        STORAGE_JOBS_LEASE_SECONDS="20",
    )
    data = os.urandom(5000)
    upload = UploadJob(bucket=bucket, key="c/u", data=data, checksum="crc32c")
    await (await jobs.enqueue(upload)).result(timeout=60)
    head = await admin_storage.head_object(bucket=bucket, key="c/u")
    assert head["metadata"]["sj-crc32c"] == crc(data)
    assert head["checksums"] == {"crc32c": crc(data)}  # sent with the PUT, checked, kept

    await admin_storage.upload_file(bucket=bucket, key="c/plain", data=data)
    copy = CopyJob(src_bucket=bucket, src_key="c/plain", dst_key="c/copied", checksum="crc32c")
    await (await jobs.enqueue(copy)).result(timeout=60)
    head = await admin_storage.head_object(bucket=bucket, key="c/copied")
    assert head["metadata"]["sj-crc32c"] == crc(data)

    bodies = {f"m/{i}": os.urandom(100 + i) for i in range(10)}
    for key, body in bodies.items():
        await admin_storage.upload_file(bucket=bucket, key=key, data=body)
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="m/",
        dst_bucket=bucket,
        dst_prefix="n/",
        checksum="crc32c",
        verify=True,
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.copied, result.verified, result.mismatch, result.failed) == (10, 10, 0, 0)
    for key, body in bodies.items():
        head = await admin_storage.head_object(bucket=bucket, key="n/" + key.removeprefix("m/"))
        assert head["metadata"]["sj-crc32c"] == crc(body)
    again = await (await jobs.enqueue(job)).result(timeout=120)
    assert (again.copied, again.skipped) == (0, 10)

    # Through a source profile the bytes are streamed and re-uploaded in parts: each part
    # carries its CRC32C and the whole object gets a full-object one (not a composite).
    big = os.urandom(12 * MiB)
    await admin_storage.upload_file(bucket=bucket, key="x/big.bin", data=big)
    cross = MigrateJob(
        src_bucket=bucket,
        src_prefix="x/",
        dst_bucket=bucket,
        dst_prefix="y/",
        src_endpoint="self",
        checksum="crc32c",
        verify=True,
    )
    result = await (await jobs.enqueue(cross)).result(timeout=180)
    assert (result.copied, result.verified, result.failed) == (1, 1, 0)
    head = await admin_storage.head_object(bucket=bucket, key="y/big.bin")
    assert "-" in head["etag"]  # multipart...
    assert head["checksums"] == {"crc32c": crc(big)}  # ...with the whole object's CRC32C
    assert head["metadata"]["sj-crc32c"] == crc(big)


async def test_a_corrupted_destination_is_caught_by_crc32c(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """verify=True catches a copy that reads back wrong; VerifyJob one rewritten afterwards."""
    keys = [f"v/{i:02d}.bin" for i in range(12)]
    await put_many(admin_storage, bucket, keys, data=os.urandom(3000))
    fault_proxy.rules = FaultRules(corrupt_get_paths=frozenset({f"/{bucket}/w/05.bin"}))
    await start_in_process(
        STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url, STORAGE_JOBS_LEASE_SECONDS="20"
    )
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="v/",
        dst_bucket=bucket,
        dst_prefix="w/",
        checksum="crc32c",
        verify=True,
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.copied, result.verified, result.mismatch, result.failed) == (11, 11, 1, 1)
    [line] = await report_of(admin_storage, result)
    assert (line["key"], line["status"], line["error_code"]) == (
        "w/05.bin",
        "mismatch",
        "ChecksumMismatch",
    )
    assert "crc32c" in line["message"]

    # Same size, other bytes, and the good copy's metadata (its sj-crc32c claim) kept.
    fault_proxy.rules = FaultRules()
    good = await admin_storage.head_object(bucket=bucket, key="w/03.bin")
    await admin_storage.upload_file(
        bucket=bucket, key="w/03.bin", data=b"Z" * 3000, metadata=good["metadata"]
    )
    for checksum in ("crc32c", None):
        verify = VerifyJob(
            src_bucket=bucket,
            src_prefix="v/",
            dst_bucket=bucket,
            dst_prefix="w/",
            checksum=checksum,
        )
        checked = await (await jobs.enqueue(verify)).result(timeout=120)
        # w/05.bin was copied and is fine on disk: only its read-back was corrupted.
        assert (checked.matched, checked.different, checked.missing) == (11, 1, 0), checksum
        [line] = await report_of(admin_storage, checked)
        assert (line["key"], line["status"]) == ("w/03.bin", "different")


async def test_manifest_lines_with_version_ids_copy_and_delete_those_versions(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
) -> None:
    """``bucket,key,version_id`` copies (and deletes) that version; the report maps the ids."""
    s3 = seaweedfs.client()
    src, dst = f"mv-{uuid.uuid4().hex[:10]}", f"mv-{uuid.uuid4().hex[:10]}"
    for name in (src, dst):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=src, Key="p/k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=src, Key="p/k", Body=b"new-new")["VersionId"]
    s3.put_object(Bucket=src, Key="p/j", Body=b"current")
    lines = f"{src},p/k,{old}\n{src},p/j\n{src},p/gone,no-such-version\n"
    s3.put_object(Bucket=src, Key="manifests/m.csv", Body=lines.encode())
    await start_in_process(STORAGE_JOBS_LEASE_SECONDS="20")

    manifest = Manifest(bucket=src, key="manifests/m.csv")
    job = MigrateJob(
        src_bucket=src,
        src_prefix="p/",
        dst_bucket=dst,
        dst_prefix="q/",
        manifest=manifest,
        checksum="crc32c",
        report="all",
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.listed, result.copied, result.failed) == (3, 2, 1)
    assert await admin_storage.fetch_file(bucket=dst, key="q/k") == b"old"
    assert await admin_storage.fetch_file(bucket=dst, key="q/j") == b"current"
    report = {line["key"]: line for line in await report_of(admin_storage, result)}
    assert report["q/k"]["src_version_id"] == old
    assert report["q/k"]["version_id"] == s3.head_object(Bucket=dst, Key="q/k")["VersionId"]
    assert "src_version_id" not in report["q/j"]
    assert report["q/gone"]["status"] == "failed"

    delete = DeletePrefixJob(bucket=src, prefix="p/", manifest=manifest, report="all")
    deleted = await (await jobs.enqueue(delete)).result(timeout=120)
    assert deleted.failed == 0
    versions = s3.list_object_versions(Bucket=src, Prefix="p/")
    kept = {(v["Key"], v["VersionId"]) for v in versions.get("Versions", [])}
    assert (("p/k", old) not in kept) and (("p/k", new) in kept)  # that version only
    # The line without a version deleted p/j's current object: a delete marker on top.
    assert [m["Key"] for m in versions.get("DeleteMarkers", [])] == ["p/j"]
    lines_out = {
        (line["key"], line.get("version_id")) for line in await report_of(admin_storage, deleted)
    }
    assert ("p/k", old) in lines_out and ("p/j", None) in lines_out
