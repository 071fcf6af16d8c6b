"""The copy and upload handlers against moto."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage_jobs.jobs import CopyJob, CopyResult, JobLimits, JobRejectedError, UploadJob
from storage_jobs.jobs._content_match import CHECKSUM_METADATA, same_content
from storage_jobs.jobs._copy import run_copy
from storage_jobs.jobs._upload import run_upload
from storage_jobs.storage import StorageClient, StorageObjectNotFoundError
from tests.jobs.conftest import RecordingLog, make_ctx

SHA = CHECKSUM_METADATA["sha256"]


def record_calls(client: StorageClient, operation: str) -> list[dict[str, Any]]:
    """Records the parameters of every call of one S3 operation the client makes."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    client.s3.meta.events.register(f"provide-client-params.s3.{operation}", record)
    return seen


async def test_copy_skips_identical_destination(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """With skip_if_identical, an identical destination is left alone: no CopyObject."""
    await moto_client.upload_file(bucket=moto_bucket, key="src", data=b"same bytes")
    await moto_client.upload_file(bucket=moto_bucket, key="dst", data=b"same bytes")
    copies = record_calls(moto_client, "CopyObject")
    job = CopyJob(src_bucket=moto_bucket, src_key="src", dst_key="dst", skip_if_identical=True)
    result = await run_copy(job, make_ctx(moto_client, None, recording_log))
    assert result == CopyResult(
        src_bucket=moto_bucket, src_key="src", dst_bucket=moto_bucket, dst_key="dst", skipped=True
    )
    assert copies == []
    assert recording_log.named("copy.skipped_identical") == [
        {"dst_bucket": moto_bucket, "dst_key": "dst"}
    ]


@pytest.mark.parametrize(
    ("dst_data", "skip"),
    [(b"other bytes", True), (b"same bytes", False), (None, True)],
    ids=["different", "identical-but-no-skip", "missing"],
)
async def test_copy_copies_otherwise(
    moto_client: StorageClient,
    moto_bucket: str,
    recording_log: RecordingLog,
    dst_data: bytes | None,
    skip: bool,
) -> None:
    """A different or missing destination, or skip_if_identical off, means one CopyObject."""
    await moto_client.upload_file(bucket=moto_bucket, key="src", data=b"same bytes")
    if dst_data is not None:
        await moto_client.upload_file(bucket=moto_bucket, key="dst", data=dst_data)
    copies = record_calls(moto_client, "CopyObject")
    job = CopyJob(src_bucket=moto_bucket, src_key="src", dst_key="dst", skip_if_identical=skip)
    result = await run_copy(job, make_ctx(moto_client, None, recording_log))
    assert result.skipped is False
    assert len(copies) == 1
    assert await moto_client.fetch_file(bucket=moto_bucket, key="dst") == b"same bytes"
    (done,) = recording_log.named("copy.done")
    assert done["bytes"] == len(b"same bytes")


async def test_copy_into_another_bucket(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """dst_bucket sends the copy to another bucket, named in the result."""
    other = moto_bucket[:-1] + ("x" if moto_bucket[-1] != "x" else "y")
    await moto_client.s3.create_bucket(Bucket=other)
    await moto_client.upload_file(bucket=moto_bucket, key="src", data=b"abc")
    job = CopyJob(src_bucket=moto_bucket, src_key="src", dst_bucket=other, dst_key="src")
    result = await run_copy(job, make_ctx(moto_client, None, recording_log))
    assert (result.dst_bucket, result.skipped) == (other, False)
    assert await moto_client.fetch_file(bucket=other, key="src") == b"abc"


async def test_copy_of_missing_source_raises(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """A missing source is a permanent NoSuchKey failure."""
    job = CopyJob(src_bucket=moto_bucket, src_key="nope", dst_key="dst")
    with pytest.raises(StorageObjectNotFoundError) as info:
        await run_copy(job, make_ctx(moto_client, None, recording_log))
    assert info.value.code == "NoSuchKey"


@pytest.mark.parametrize(
    ("src", "dst", "same"),
    [
        ({"size": 3, "etag": "abc"}, {"size": 3, "etag": "abc"}, True),
        ({"size": 3, "etag": "abc"}, {"size": 4, "etag": "abc"}, False),
        ({"size": 3, "etag": "abc"}, {"size": 3, "etag": "abd"}, False),
        ({"size": 3, "etag": ""}, {"size": 3, "etag": ""}, False),
        ({"size": 9, "etag": "x-2"}, {"size": 9, "etag": "y-3"}, False),
        (
            {"size": 9, "etag": "x-2", "metadata": {SHA: "s"}},
            {"size": 9, "etag": "y-3", "metadata": {SHA: "s"}},
            True,
        ),
        (
            {"size": 9, "etag": "e", "metadata": {SHA: "s1"}},
            {"size": 9, "etag": "e", "metadata": {SHA: "s2"}},
            False,
        ),
    ],
)
def test_same_content(src: dict[str, Any], dst: dict[str, Any], same: bool) -> None:
    """Sizes must match; SHA-256 metadata decides when both have it; else equal ETags."""
    assert same_content(src, dst) is same


async def test_upload_inline(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog
) -> None:
    """Inline data is stored with its content type and metadata; the result says its size."""
    job = UploadJob(
        bucket=moto_bucket,
        key="in/line.bin",
        data=b"\x00\xffinline",
        content_type="application/x-test",
        metadata={"owner": "u1"},
    )
    result = await run_upload(job, make_ctx(moto_client, None, recording_log))
    assert (result.bucket, result.key, result.size) == (moto_bucket, "in/line.bin", 8)
    head = await moto_client.head_object(bucket=moto_bucket, key="in/line.bin")
    assert (head["etag"], head["content_type"], head["metadata"]) == (
        result.etag,
        "application/x-test",
        {"owner": "u1"},
    )
    assert await moto_client.fetch_file(bucket=moto_bucket, key="in/line.bin") == job.data
    assert recording_log.named("upload.stored")[0]["bytes"] == 8


async def test_upload_from_path_inside_roots(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog, tmp_path: Path
) -> None:
    """A file inside an upload root is streamed to the key."""
    root = tmp_path.resolve()
    (root / "f.txt").write_bytes(b"from disk" * 100)
    ctx = make_ctx(moto_client, None, recording_log, limits=JobLimits(upload_roots=(root,)))
    job = UploadJob(bucket=moto_bucket, key="disk", path=str(root / "f.txt"))
    result = await run_upload(job, ctx)
    assert result.size == 900
    assert await moto_client.fetch_file(bucket=moto_bucket, key="disk") == b"from disk" * 100


async def test_upload_from_path_outside_roots_is_rejected_at_run_time(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog, tmp_path: Path
) -> None:
    """The worker re-checks roots: a path outside them fails and nothing is stored."""
    root = tmp_path.resolve() / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"secret")
    ctx = make_ctx(moto_client, None, recording_log, limits=JobLimits(upload_roots=(root,)))
    job = UploadJob(bucket=moto_bucket, key="leak", path=str(tmp_path / "secret.txt"))
    with pytest.raises(JobRejectedError) as info:
        await run_upload(job, ctx)
    assert info.value.field == "path"
    assert not await moto_client.file_exists(bucket=moto_bucket, key="leak")


class SwappedLimits(JobLimits):
    """Limits whose check is fooled, as by a symlink swapped in after the check."""

    def resolve_upload_path(self, path: str) -> Path:
        return Path(path)


async def test_opened_file_is_rechecked_against_roots(
    moto_client: StorageClient, moto_bucket: str, recording_log: RecordingLog, tmp_path: Path
) -> None:
    """Even if the path check is fooled, the file actually opened must lie inside a root."""
    root = tmp_path.resolve() / "root"
    root.mkdir()
    (tmp_path / "secret.txt").write_bytes(b"secret")
    (root / "link").symlink_to(tmp_path / "secret.txt")
    limits = SwappedLimits(upload_roots=(root,))
    ctx = make_ctx(moto_client, None, recording_log, limits=limits)
    job = UploadJob(bucket=moto_bucket, key="leak", path=str(root / "link"))
    with pytest.raises(JobRejectedError, match="opened file lies outside"):
        await run_upload(job, ctx)
    assert not await moto_client.file_exists(bucket=moto_bucket, key="leak")
