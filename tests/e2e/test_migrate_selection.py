"""Migrations that choose their keys: a 2,000-line manifest killed and resumed; filters."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.jobs import DeletePrefixJob, Manifest, MigrateJob
from storage_jobs.storage import StorageClient
from tests.e2e.test_migrate import listing
from tests.fixtures_e2e import put_many, report_of, run_cli, wait_until
from tests.workers import StartInProcess, StartWorker

pytestmark = pytest.mark.integration

N_LINES = 2_000  # 40 pages of 50: resumed from a byte offset past some of them
N_BAD = 20


async def test_a_manifest_with_bad_lines_killed_and_resumed(
    start_worker: StartWorker,
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
) -> None:
    """Every good line copied once, every bad line reported once, across a kill of all workers."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    good = [f"in/{i:05d} a+b.bin" for i in range(N_LINES - N_BAD)]
    await put_many(admin_storage, bucket, good, data=b"manifest bytes")
    # Never listed: a manifest migration must touch only the keys it names.
    await put_many(admin_storage, bucket, ["in/not-in-manifest.bin"])
    lines = [f"{bucket},{k.replace(' ', '+').replace('+b', '%2Bb')}" for k in good]
    bad = {
        0: "other-bucket,in/x.bin",  # another bucket
        1: f"{bucket},out/y.bin",  # outside src_prefix
        2: "garbage-without-a-comma",  # unparseable
        3: f"{bucket},in/v%01.bin",  # a key with a control character
    }
    for i in range(N_BAD):
        lines.insert(i * 97 + 5, bad[i % 4])
    assert len(lines) == N_LINES
    manifest_key = "manifests/batch-ops.csv"
    await admin_storage.upload_file(
        bucket=bucket, key=manifest_key, data=("\n".join(lines) + "\n").encode()
    )

    # A longer lease than the other e2e tests: a starved worker that loses its lease hands the
    # batch over (correctly, but a loaded machine would spend the test on hand-overs). Not
    # longer still: the killed workers' batches wait out their lease before they run again.
    env = {
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_LEASE_SECONDS": "10",
        "STORAGE_JOBS_MAX_JOBS": "4",
    }
    first = [start_worker(**env), start_worker(**env)]
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="in/",
        dst_bucket=dst,
        dst_prefix="out/",
        manifest=Manifest(bucket=bucket, key=manifest_key),
        batch_size=50,
        report="all",
    )
    handle = await jobs.enqueue(job, job_id=f"manifest-{uuid.uuid4().hex[:8]}")

    async def some_done() -> bool:
        return (await jobs.progress(handle.job_id)).processed >= N_LINES // 4

    await wait_until(some_done)
    for worker in first:
        worker.kill()
    at_kill = await jobs.progress(handle.job_id)
    assert at_kill.status != "done" and at_kill.processed < len(good)
    [await start_in_process(**env), await start_in_process(**env)]
    result = await handle.result(timeout=600)

    assert (result.listed, result.failed, result.rejected) == (len(good), 0, N_BAD)
    assert result.copied + result.skipped == len(good)
    moved = await listing(admin_storage, dst, "out/")
    assert set(moved) == {"out/" + k.removeprefix("in/") for k in good}
    # A copy made before the kill but not recorded is found identical, not copied again.
    assert max(fault_proxy.copies.values()) <= 2
    assert sum(n - 1 for n in fault_proxy.copies.values()) <= 16
    report = await report_of(admin_storage, result)
    keys = [line["key"] for line in report if line["status"] in ("copied", "skipped")]
    assert len(keys) == len(set(keys)) == len(good)  # no key twice
    rejected = [line for line in report if line["status"] == "rejected"]
    assert len(rejected) == N_BAD
    reasons = " ".join(line["message"] for line in rejected)
    for why in ("not the source bucket", "outside src_prefix", "unparseable", "control char"):
        assert reasons.count(why) == N_BAD // 4, why


async def test_inventory_manifest_and_delete_from_a_manifest(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
    worker_env: dict[str, str],
) -> None:
    """An S3 Inventory (gzipped CSV files with sizes) migrates; a CSV manifest drives a delete."""
    import gzip

    keys = [f"inv/{i:03d}.bin" for i in range(30)]
    await put_many(admin_storage, bucket, keys, data=b"12345")
    rows = [f'"{bucket}","{k}","5","2024-01-01T00:00:00.000Z","x","STANDARD"' for k in keys]
    rows[7] = f'"{bucket}","{keys[7]}","5","2024-01-01T00:00:00.000Z","x","GLACIER"'
    for n, part in enumerate((rows[:12], rows[12:])):
        data = gzip.compress(("\n".join(part) + "\n").encode())
        await admin_storage.upload_file(bucket=bucket, key=f"inventory/data/{n}.csv.gz", data=data)
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate, ETag, StorageClass",
        "files": [{"key": f"inventory/data/{n}.csv.gz", "size": 1} for n in range(2)],
    }
    await admin_storage.upload_file(
        bucket=bucket, key="inventory/manifest.json", data=json.dumps(manifest).encode()
    )
    await start_in_process()
    job = MigrateJob(
        src_bucket=bucket,
        src_prefix="inv/",
        dst_bucket=bucket,
        dst_prefix="copied/",
        manifest=Manifest(bucket=bucket, key="inventory/manifest.json", format="s3-inventory"),
        storage_classes=["STANDARD"],
        batch_size=10,
    )
    result = await (await jobs.enqueue(job)).result(timeout=120)
    assert (result.listed, result.copied, result.filtered) == (30, 29, 1)
    assert not await admin_storage.file_exists(bucket=bucket, key="copied/007.bin")

    names = "\n".join(f"{bucket},{k}" for k in keys[:10]) + f"\n{bucket},elsewhere/k\n"
    await admin_storage.upload_file(bucket=bucket, key="manifests/del.csv", data=names.encode())
    # The same manifest through the CLI, with a filter: 10 named, 1 rejected, 003 left out.
    cli = await run_cli(
        worker_env,
        "migrate",
        f"{bucket}/inv/",
        f"{bucket}/cli/",
        "--manifest",
        f"s3://{bucket}/manifests/del.csv",
        "--exclude",
        "003.bin",
        "--watch",
        "--json",
    )
    assert cli.returncode == 0, cli.stderr
    summary = json.loads(cli.stdout[cli.stdout.index("{") :])
    assert (summary["listed"], summary["copied"], summary["filtered"], summary["rejected"]) == (
        10,
        9,
        1,
        1,
    )
    delete = DeletePrefixJob(
        bucket=bucket, prefix="inv/", manifest=Manifest(bucket=bucket, key="manifests/del.csv")
    )
    done = await (await jobs.enqueue(delete)).result(timeout=120)
    assert (done.listed, done.deleted, done.rejected) == (10, 10, 1)
    assert set(await admin_storage.list_files(bucket=bucket, prefix="inv/")) == set(keys[10:])

    # A delete from a manifest through the CLI: its keys below the prefix go, others are rejected.
    gone = "\n".join(f"{bucket},{k}" for k in keys[10:15]) + f"\n{bucket},copied/000.bin\n"
    await admin_storage.upload_file(bucket=bucket, key="manifests/gone.csv", data=gone.encode())
    cli = await run_cli(
        worker_env,
        "delete-prefix",
        f"{bucket}/inv/",
        "--manifest",
        f"s3://{bucket}/manifests/gone.csv",
        "--watch",
        "--json",
    )
    assert cli.returncode == 0, cli.stderr
    summary = json.loads(cli.stdout[cli.stdout.index("{") :])
    assert (summary["listed"], summary["deleted"], summary["rejected"]) == (5, 5, 1)
    assert set(await admin_storage.list_files(bucket=bucket, prefix="inv/")) == set(keys[15:])
    assert await admin_storage.file_exists(bucket=bucket, key="copied/000.bin")


async def test_filters_select_by_name_size_and_time_and_dry_run_shows_them(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """A known mix of names, sizes and times: dry run reports the selection, the run copies it."""
    old = {"src/a.jpg": 10, "src/d/e.jpg": 2000, "src/d/f.png": 10, "src/big.jpg": 50_000}
    for key, size in old.items():
        await admin_storage.upload_file(bucket=bucket, key=key, data=b"o" * size)
    await asyncio.sleep(2.1)  # S3 times have one-second resolution
    cut = datetime.now(UTC)
    await asyncio.sleep(1.1)
    new = {"src/new.jpg": 10, "src/d/new.png": 10, "src/skip/x.jpg": 10}
    for key, size in new.items():
        await admin_storage.upload_file(bucket=bucket, key=key, data=b"n" * size)
    await start_in_process()

    by_name_and_size = MigrateJob(
        src_bucket=bucket,
        src_prefix="src/",
        dst_bucket=bucket,
        dst_prefix="dst/",
        include=["*.jpg"],
        exclude=["/skip/**"],
        max_size=10_000,
        report="all",
        dry_run=True,
    )
    dry = await (await jobs.enqueue(by_name_and_size)).result(timeout=120)
    status = {line["src_key"]: line["status"] for line in await report_of(admin_storage, dry)}
    selected = {"src/a.jpg", "src/d/e.jpg", "src/new.jpg"}
    assert {k for k, s in status.items() if s == "would_copy"} == selected
    assert {k for k, s in status.items() if s == "filtered"} == (set(old) | set(new)) - selected
    assert (dry.listed, dry.copied, dry.filtered) == (7, 3, 4)
    assert not await admin_storage.list_files(bucket=bucket, prefix="dst/")

    real = by_name_and_size.model_copy(update={"dry_run": False})
    result = await (await jobs.enqueue(real)).result(timeout=120)
    assert (result.copied, result.filtered) == (3, 4)
    copied = set(await admin_storage.list_files(bucket=bucket, prefix="dst/"))
    assert copied == {"dst/a.jpg", "dst/d/e.jpg", "dst/new.jpg"}

    by_time = MigrateJob(
        src_bucket=bucket,
        src_prefix="src/",
        dst_bucket=bucket,
        dst_prefix="recent/",
        modified_after=cut,
        min_size=1,
    )
    recent = await (await jobs.enqueue(by_time)).result(timeout=120)
    assert (recent.copied, recent.filtered) == (3, 4)
    got = set(await admin_storage.list_files(bucket=bucket, prefix="recent/"))
    assert got == {"recent/" + k.removeprefix("src/") for k in new}


async def test_prefix_delete_deletes_only_what_the_filters_select(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """Globs and a size bound choose the deletes; a dry run reports the same choice."""
    sizes = {"tmp/a.log": 10, "tmp/d/b.log": 10, "tmp/d/big.log": 5000, "tmp/keep.txt": 10}
    for key, size in sizes.items():
        await admin_storage.upload_file(bucket=bucket, key=key, data=b"z" * size)
    await start_in_process()
    job = DeletePrefixJob(
        bucket=bucket, prefix="tmp/", include=["*.log"], max_size=1000, report="all", dry_run=True
    )
    dry = await (await jobs.enqueue(job)).result(timeout=120)
    assert (dry.listed, dry.deleted, dry.filtered) == (4, 2, 2)
    lines = {line["key"]: line["status"] for line in await report_of(admin_storage, dry)}
    assert lines == {
        "tmp/a.log": "would_delete",
        "tmp/d/b.log": "would_delete",
        "tmp/d/big.log": "filtered",
        "tmp/keep.txt": "filtered",
    }
    assert set(await admin_storage.list_files(bucket=bucket, prefix="tmp/")) == set(sizes)
    done = await (await jobs.enqueue(job.model_copy(update={"dry_run": False}))).result(timeout=120)
    assert (done.listed, done.deleted, done.filtered) == (4, 2, 2)
    left = set(await admin_storage.list_files(bucket=bucket, prefix="tmp/"))
    assert left == {"tmp/d/big.log", "tmp/keep.txt"}
    assert (await jobs.progress(done.migration_id)).filtered == 2
