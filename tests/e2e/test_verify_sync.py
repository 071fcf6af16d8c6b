"""Proving copies: verify=True, VerifyJob and ``storage-jobs verify``; sync with max_delete."""

from __future__ import annotations

import json
import os

import pytest

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import FaultProxy, FaultRules
from storage_jobs.jobs import MigrateJob, VerifyJob
from storage_jobs.storage import StorageClient
from tests.fixtures_e2e import put_many, report_of, run_cli
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


async def test_verify_catches_a_copy_that_reads_back_corrupted(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """verify=True reads every copy back; the one whose bytes come back wrong is a mismatch."""
    keys = [f"v/{i:02d}.bin" for i in range(20)]
    await put_many(admin_storage, bucket, keys, data=os.urandom(3000))
    fault_proxy.rules = FaultRules(corrupt_get_paths=frozenset({f"/{bucket}/w/07.bin"}))
    await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url)
    job = MigrateJob(
        src_bucket=bucket, src_prefix="v/", dst_bucket=bucket, dst_prefix="w/", verify=True
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.copied, result.verified, result.mismatch, result.failed) == (19, 19, 1, 1)
    assert fault_proxy.stats["corrupted"] >= 1
    [line] = await report_of(admin_storage, result)
    assert (line["key"], line["status"], line["error_code"]) == (
        "w/07.bin",
        "mismatch",
        "ChecksumMismatch",
    )


async def test_verify_job_reports_missing_extra_and_different(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    worker_env: dict[str, str],
) -> None:
    """A clean copy verifies (exit 0); then one key corrupted, one deleted, one added (exit 1)."""
    keys = [f"s/{i:02d}.bin" for i in range(30)]
    await put_many(admin_storage, bucket, keys, data=b"original-bytes")
    await start_in_process()
    migrate = MigrateJob(src_bucket=bucket, src_prefix="s/", dst_bucket=bucket, dst_prefix="d/")
    assert (await (await jobs.enqueue(migrate)).result(timeout=120)).copied == 30

    clean = await run_cli(worker_env, "verify", f"{bucket}/s/", f"{bucket}/d/", "--watch", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout[clean.stdout.index("{") :])["matched"] == 30

    # Same size, different bytes: only the ETag (an MD5) tells.
    await admin_storage.upload_file(bucket=bucket, key="d/03.bin", data=b"CORRUPTED-byte")
    await admin_storage.delete_file(bucket=bucket, key="d/04.bin")
    await admin_storage.upload_file(bucket=bucket, key="d/zz-extra.bin", data=b"x")
    for checksum in (None, "sha256"):
        job = VerifyJob(
            src_bucket=bucket,
            src_prefix="s/",
            dst_bucket=bucket,
            dst_prefix="d/",
            checksum=checksum,
            batch_size=7,
        )
        result = await (await jobs.enqueue(job)).result(timeout=120)
        assert (result.matched, result.missing, result.extra, result.different) == (28, 1, 1, 1)
        report = {line["key"]: line["status"] for line in await report_of(admin_storage, result)}
        assert report == {"d/03.bin": "different", "d/04.bin": "missing", "d/zz-extra.bin": "extra"}

    # Without --watch the command still waits: its exit code is the verdict, not "enqueued".
    broken = await run_cli(worker_env, "verify", f"{bucket}/s/", f"{bucket}/d/", "--json")
    assert broken.returncode == 1, broken.stderr
    summary = json.loads(broken.stdout[broken.stdout.index("{") :])
    assert (summary["missing"], summary["extra"], summary["different"]) == (1, 1, 1)


async def test_sync_deletes_exactly_the_extraneous_keys_and_refuses_past_max_delete(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """Past max_delete nothing is deleted and the job fails with the count; then exactly 3 go."""
    keys = [f"src/{i:02d}.txt" for i in range(25)]
    await put_many(admin_storage, bucket, keys, data=b"keep")
    extras = ["dst/aa-extra.txt", "dst/10x.txt", "dst/sub/zz.txt"]
    await put_many(admin_storage, bucket, extras, data=b"extra")
    # Outside dst_prefix, and a source key the filter leaves out: neither is extraneous.
    await put_many(admin_storage, bucket, ["dstX/other.txt", "dst/skip.log", "src/skip.log"])
    await start_in_process()
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="src/",
        dst_bucket=bucket,
        dst_prefix="dst/",
        exclude=["*.log"],
        delete_extraneous=True,
        max_delete=2,
    )
    handle = await jobs.enqueue(job)
    with pytest.raises(JobFailedError) as info:
        await handle.result(timeout=120)
    assert info.value.error_type == "TooManyDeletesError"
    assert "3 extraneous" in info.value.message
    for key in extras:
        assert await admin_storage.file_exists(bucket=bucket, key=key)
    assert (await jobs.progress(handle.job_id)).report_key  # the report was still written

    dry = job.model_copy(update={"max_delete": 3, "dry_run": True})
    planned = await (await jobs.enqueue(dry)).result(timeout=120)
    assert planned.extraneous_deleted == 3
    lines = await report_of(admin_storage, planned)
    assert {line["key"] for line in lines if line["status"] == "would_delete_extraneous"} == set(
        extras
    )
    for key in extras:
        assert await admin_storage.file_exists(bucket=bucket, key=key)
    assert not [line for line in lines if line["status"] == "sync_would_refuse"]
    # A plan past the limit lists the same keys and says the real run would refuse them.
    over = await (await jobs.enqueue(dry.model_copy(update={"max_delete": 2}))).result(timeout=120)
    lines = await report_of(admin_storage, over)
    assert {line["key"] for line in lines if line["status"] == "would_delete_extraneous"} == set(
        extras
    )
    refusal = [line for line in lines if line["status"] == "sync_would_refuse"]
    assert len(refusal) == 1 and "3 extraneous" in refusal[0]["message"], refusal

    result = await (await jobs.enqueue(job.model_copy(update={"max_delete": 3}))).result(
        timeout=120
    )
    assert (result.failed, result.extraneous_deleted) == (0, 3)
    left = set(await admin_storage.list_files(bucket=bucket, prefix="dst"))
    assert left == {f"dst/{i:02d}.txt" for i in range(25)} | {"dstX/other.txt", "dst/skip.log"}


async def test_checksums_on_upload_copy_and_migration(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """checksum="sha256" stores the bytes' SHA-256 in sj-sha256; a re-run finds them identical."""
    import hashlib

    from storage_jobs.jobs import CopyJob, UploadJob

    await start_in_process()
    data = os.urandom(5000)
    want = hashlib.sha256(data).hexdigest()
    await (
        await jobs.enqueue(UploadJob(bucket=bucket, key="c/u", data=data, checksum="sha256"))
    ).result(timeout=60)
    assert (await admin_storage.head_object(bucket=bucket, key="c/u"))["metadata"][
        "sj-sha256"
    ] == want
    await admin_storage.upload_file(bucket=bucket, key="c/plain", data=data)
    copy = CopyJob(src_bucket=bucket, src_key="c/plain", dst_key="c/copied", checksum="sha256")
    await (await jobs.enqueue(copy)).result(timeout=60)
    assert (await admin_storage.head_object(bucket=bucket, key="c/copied"))["metadata"][
        "sj-sha256"
    ] == want

    keys = [f"m/{i}" for i in range(10)]
    bodies = {k: os.urandom(100 + i) for i, k in enumerate(keys)}
    for key, body in bodies.items():
        await admin_storage.upload_file(bucket=bucket, key=key, data=body)
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="m/",
        dst_bucket=bucket,
        dst_prefix="n/",
        checksum="sha256",
        verify=True,
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.copied, result.verified, result.failed) == (10, 10, 0)
    for key, body in bodies.items():
        head = await admin_storage.head_object(bucket=bucket, key="n/" + key.removeprefix("m/"))
        assert head["metadata"]["sj-sha256"] == hashlib.sha256(body).hexdigest()
    again = await (await jobs.enqueue(job)).result(timeout=120)
    assert (again.copied, again.skipped) == (0, 10)
