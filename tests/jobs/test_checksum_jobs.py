"""Checksums in the upload, copy and migrate handlers (moto): what is sent, stored and read."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from storage_jobs.jobs import CopyJob, JobLimits, MigrateJob, ObjectRef, UploadJob
from storage_jobs.jobs._copy import run_copy
from storage_jobs.jobs._migrate_object import migrate_one as _migrate_one
from storage_jobs.jobs._upload import run_upload
from storage_jobs.storage import StorageClient, StorageConfig
from storage_jobs.storage._checksums import Hasher
from tests.jobs.conftest import RecordingLog, make_ctx
from tests.jobs.test_copy_upload import record_calls


def crc(data: bytes) -> str:
    return Hasher.of("crc32c", data).hexdigest()


def s3_crc(data: bytes) -> str:
    return base64.b64encode(bytes.fromhex(crc(data))).decode()


async def test_inline_upload_sends_and_records_its_crc32c(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """PutObject carries the CRC32C (the server checks it); metadata and HEAD hold it."""
    puts = record_calls(moto_client, "PutObject")
    data = b"payload " * 100
    job = UploadJob(bucket=moto_bucket, key="k", data=data, checksum="crc32c")
    await run_upload(job, make_ctx(moto_client, None, recording_log))
    assert puts[0]["ChecksumAlgorithm"] == "CRC32C"
    assert puts[0]["ChecksumCRC32C"] == s3_crc(data)
    head = await moto_client.head_object(bucket=moto_bucket, key="k")
    assert head["metadata"]["sj-crc32c"] == crc(data)
    assert head["checksums"] == {"crc32c": crc(data)}


async def test_multipart_file_upload_sends_part_and_whole_object_crc32c(
    moto_config: StorageConfig, moto_bucket: str, tmp_path: Path, recording_log: RecordingLog
) -> None:
    """Each part carries its CRC32C; the upload asks for a FULL_OBJECT checksum of the whole."""
    config = moto_config.model_copy(update={"multipart_threshold": 5 * 2**20})
    data = os.urandom(11 * 2**20)  # two parts: 8 MiB and 3 MiB
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    async with StorageClient(config) as client:
        creates = record_calls(client, "CreateMultipartUpload")
        parts = record_calls(client, "UploadPart")
        completes = record_calls(client, "CompleteMultipartUpload")
        job = UploadJob(bucket=moto_bucket, key="big", path=str(path), checksum="crc32c")
        ctx = make_ctx(client, None, recording_log, limits=JobLimits(upload_roots=[tmp_path]))
        await run_upload(job, ctx)
        head = await client.head_object(bucket=moto_bucket, key="big")
    assert (creates[0]["ChecksumAlgorithm"], creates[0]["ChecksumType"]) == (
        "CRC32C",
        "FULL_OBJECT",
    )
    chunk = config.multipart_chunksize
    # Parts go up concurrently (each hashed off the loop): in part order, not call order.
    parts = sorted(parts, key=lambda p: int(p["PartNumber"]))
    assert [p["ChecksumCRC32C"] for p in parts] == [
        s3_crc(data[i : i + chunk]) for i in range(0, len(data), chunk)
    ]
    assert completes[0]["ChecksumCRC32C"] == s3_crc(data)
    assert all("ChecksumCRC32C" in p for p in completes[0]["MultipartUpload"]["Parts"])
    assert head["metadata"]["sj-crc32c"] == crc(data)


async def test_without_additional_checksums_only_metadata_is_written(
    moto_config: StorageConfig, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """For a server that rejects x-amz-checksum-*: nothing sent, the worker's hash still kept."""
    config = moto_config.model_copy(update={"additional_checksums": False})
    async with StorageClient(config) as client:
        puts = record_calls(client, "PutObject")
        heads = record_calls(client, "HeadObject")
        job = UploadJob(bucket=moto_bucket, key="k", data=b"abc", checksum="sha256")
        await run_upload(job, make_ctx(client, None, recording_log))
        head = await client.head_object(bucket=moto_bucket, key="k")
    assert not any(name.startswith("Checksum") for name in puts[0])
    assert "ChecksumMode" not in heads[0]
    assert len(head["metadata"]["sj-sha256"]) == 64 and head["checksums"] == {}


@pytest.mark.parametrize("source_has_crc", [False, True])
async def test_copy_records_the_source_crc32c_reading_it_only_when_missing(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog, source_has_crc: bool
) -> None:
    """A source holding its CRC32C is not read; one without is read once and hashed."""
    data = b"copy me " * 500
    if source_has_crc:
        await moto_client.put_bytes(bucket=moto_bucket, key="src", data=data, checksum="crc32c")
    else:
        await moto_client.put_bytes(bucket=moto_bucket, key="src", data=data)
    gets = record_calls(moto_client, "GetObject")
    copies = record_calls(moto_client, "CopyObject")
    job = CopyJob(src_bucket=moto_bucket, src_key="src", dst_key="dst", checksum="crc32c")
    await run_copy(job, make_ctx(moto_client, None, recording_log))
    assert len(gets) == (0 if source_has_crc else 1)
    assert copies[0]["ChecksumAlgorithm"] == "CRC32C"
    head = await moto_client.head_object(bucket=moto_bucket, key="dst")
    assert head["metadata"]["sj-crc32c"] == crc(data)


async def migrate_one(ctx: Any, spec: MigrateJob, obj: ObjectRef) -> tuple[Any, ...]:
    """One key of a migration batch (the batch's Redis bookkeeping is the e2e tests' part)."""
    dst_key = spec.dst_prefix + obj.key[len(spec.src_prefix) :]
    return await _migrate_one(
        ctx, ctx.storage, spec, obj, dst_key, check=True, keep=spec.object_filter()
    )


async def test_migrate_with_crc32c_and_verify_catches_a_wrong_copy(
    moto_client: StorageClient,
    moto_bucket: str,
    recording_log: RecordingLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """verify=True reads each copy back and compares its CRC32C with the source's."""
    for name in ("a", "b"):
        await moto_client.put_bytes(bucket=moto_bucket, key=f"s/{name}", data=name.encode() * 99)
    spec = MigrateJob(
        src_bucket=moto_bucket,
        src_prefix="s/",
        dst_bucket=moto_bucket,
        dst_prefix="d/",
        checksum="crc32c",
        verify=True,
    )
    real = moto_client.stream_object

    async def corrupt_b(**kwargs: Any) -> Any:
        async for chunk in real(**kwargs):
            yield b"X" + chunk[1:] if kwargs["key"] == "d/b" else chunk

    monkeypatch.setattr(moto_client, "stream_object", corrupt_b)
    ctx = make_ctx(moto_client, None, recording_log)
    good = await migrate_one(ctx, spec, ObjectRef(key="s/a"))
    bad = await migrate_one(ctx, spec, ObjectRef(key="s/b"))
    assert good[0] == "copied"
    assert bad[:3] == ("mismatch", 0, "ChecksumMismatch") and "crc32c" in bad[3]
    head = await moto_client.head_object(bucket=moto_bucket, key="d/a")
    assert head["metadata"]["sj-crc32c"] == crc(b"a" * 99)


async def test_a_manifest_version_id_copies_that_version(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """A version id on a line copies that version, not the current one (moto has versioning)."""
    await moto_client.s3.put_bucket_versioning(
        Bucket=moto_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    old = await moto_client.put_bytes(bucket=moto_bucket, key="s/k", data=b"old")
    await moto_client.put_bytes(bucket=moto_bucket, key="s/k", data=b"new")
    assert old.version_id
    spec = MigrateJob(
        src_bucket=moto_bucket, src_prefix="s/", dst_bucket=moto_bucket, dst_prefix="d/"
    )
    ctx = make_ctx(moto_client, None, recording_log)
    status, size, _, _, new_version = await migrate_one(
        ctx, spec, ObjectRef(key="s/k", version_id=old.version_id)
    )
    assert (status, size) == ("copied", 3) and new_version
    assert await moto_client.fetch_file(bucket=moto_bucket, key="d/k") == b"old"


async def test_a_version_above_the_copy_threshold_is_copied_in_parts(
    moto_config: StorageConfig, moto_bucket: str
) -> None:
    """``UploadPartCopy`` names the version too, so a large old version is copied, not refused."""
    config = moto_config.model_copy(
        update={"copy_multipart_threshold": 5 * 2**20, "multipart_chunksize": 5 * 2**20}
    )
    old_bytes = os.urandom(6 * 2**20)
    async with StorageClient(config) as client:
        await client.s3.put_bucket_versioning(
            Bucket=moto_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        old = await client.put_bytes(bucket=moto_bucket, key="big", data=old_bytes)
        await client.put_bytes(bucket=moto_bucket, key="big", data=b"new")
        part_copies = record_calls(client, "UploadPartCopy")
        await client.copy_object(
            src_bucket=moto_bucket, src_key="big", dst_key="copy", src_version_id=old.version_id
        )
        assert await client.fetch_file(bucket=moto_bucket, key="copy") == old_bytes
    # botocore has turned CopySource into "bucket/key?versionId=..." by the time it is seen.
    assert all(str(p["CopySource"]).endswith(f"?versionId={old.version_id}") for p in part_copies)
    assert len(part_copies) == 2


async def test_an_inventory_row_older_than_its_source_is_no_proof_of_identity(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """The destination matches the inventory's ETag, but the source was rewritten since."""
    old = await moto_client.put_bytes(bucket=moto_bucket, key="s/k", data=b"old-bytes")
    await moto_client.put_bytes(bucket=moto_bucket, key="d/k", data=b"old-bytes")
    await moto_client.put_bytes(bucket=moto_bucket, key="s/k", data=b"new-bytes")
    row = ObjectRef(key="s/k", size=9, etag=old.etag)  # as yesterday's inventory lists it
    inventory = {"bucket": moto_bucket, "key": "inv/manifest.json", "format": "s3-inventory"}
    spec = MigrateJob(
        src_bucket=moto_bucket,
        src_prefix="s/",
        dst_bucket=moto_bucket,
        dst_prefix="d/",
        manifest=inventory,
        verify=True,
    )
    ctx = make_ctx(moto_client, None, recording_log)
    status, size, *_ = await migrate_one(ctx, spec, row)
    assert (status, size) == ("copied", 9)
    assert await moto_client.fetch_file(bucket=moto_bucket, key="d/k") == b"new-bytes"

    # No destination yet: the fresh copy is verified against the source, not yesterday's row.
    await moto_client.put_bytes(bucket=moto_bucket, key="s/k2", data=b"newer-bytes")
    row = ObjectRef(key="s/k2", size=9, etag=old.etag)
    status, size, code, message, _ = await migrate_one(ctx, spec, row)
    assert (status, size, code) == ("copied", 11, None), message
