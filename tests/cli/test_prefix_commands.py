"""The prefix commands (``migrate``, ``delete-prefix``, ``progress``) run as a user would.

CLI subprocesses on real Redis and SeaweedFS, with a worker subprocess doing the jobs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import uuid

import pytest

from storage_jobs.devstack import FaultProxy
from storage_jobs.storage import StorageClient
from tests.cli.test_ops_commands import run_cli
from tests.fixtures_e2e import put_many
from tests.workers import StartInProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(worker_env: dict[str, str]) -> dict[str, str]:
    """The environment of a CLI run: this test's queue, Redis database and SeaweedFS."""
    return {**os.environ, **worker_env, "COLUMNS": "200"}


async def test_migrate_then_progress_then_rerun_copies_nothing(
    start_in_process: StartInProcess,
    cli_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """A migration enqueued by id is watched to its result by progress; a re-run skips all."""
    keys = [f"photos/{i:03d}.jpg" for i in range(25)]
    await put_many(admin_storage, bucket, keys, data=b"jpeg bytes")
    await admin_storage.upload_file(bucket=bucket, key="other/not-me", data=b"x")
    await start_in_process()
    cli = functools.partial(run_cli, cli_env)
    job_id = f"{bucket}-migrate"  # job ids are global to the Redis database

    dry = await cli(
        "migrate", f"{bucket}/photos/", f"{bucket}/dry/", "--dry-run", "--watch", "--json"
    )
    assert dry.code == 0, dry.err
    assert dry.data["dry_run"] is True
    assert (dry.data["listed"], dry.data["copied"], dry.data["failed"]) == (25, 25, 0)
    assert await admin_storage.list_files(bucket=bucket, prefix="dry/") == []

    enqueued = await cli(
        "migrate", f"{bucket}/photos/", f"{bucket}/archive/", "--job-id", job_id, "--json"
    )
    assert enqueued.code == 0, enqueued.err
    assert enqueued.data == {"job_id": job_id, "enqueued": True}

    watched = await cli("progress", job_id, "--watch", "--json")
    assert watched.code == 0, watched.err
    result = watched.data
    assert result["kind"] == "migrate" and result["dry_run"] is False
    assert (result["listed"], result["copied"], result["skipped"], result["failed"]) == (
        25,
        25,
        0,
        0,
    )
    assert result["bytes"] == 25 * len(b"jpeg bytes")
    copied = sorted(await admin_storage.list_files(bucket=bucket, prefix="archive/"))
    assert copied == [f"archive/{k.removeprefix('photos/')}" for k in keys]
    assert await admin_storage.fetch_file(bucket=bucket, key="archive/007.jpg") == b"jpeg bytes"

    progress, human = await asyncio.gather(
        cli("progress", job_id, "--json"), cli("progress", job_id)
    )
    assert progress.code == 0, progress.err
    assert progress.data["migration_id"] == job_id
    assert (progress.data["listed"], progress.data["done"], progress.data["failed"]) == (25, 25, 0)
    assert progress.data["listing_done"] is True and progress.data["status"] == "done"
    assert human.code == 0 and job_id in human.out and "25" in human.out

    # A fresh id re-runs the migration: every destination is identical, nothing is copied.
    again = await cli("migrate", f"{bucket}/photos/", f"{bucket}/archive/", "--watch", "--json")
    assert again.code == 0, again.err
    assert (again.data["listed"], again.data["copied"], again.data["skipped"]) == (25, 0, 25)

    # The same id again: nothing is enqueued, the finished job is watched (and said so).
    same = await cli(
        "migrate", f"{bucket}/photos/", f"{bucket}/archive/", "--job-id", job_id, "--watch",
        "--json",
    )  # fmt: skip
    assert same.code == 0, same.err
    assert f"job {job_id} already exists" in same.err
    assert same.data["copied"] == 25  # the first run's result, not a new run


async def test_delete_prefix_exits_1_when_keys_fail_and_0_when_all_go(
    start_in_process: StartInProcess,
    cli_env: dict[str, str],
    admin_storage: StorageClient,
    bucket: str,
    fault_proxy: FaultProxy,
) -> None:
    """A denied key makes delete-prefix --watch exit 1 with it counted; a clean run exits 0."""
    keys = [f"tmp/{i:03d}" for i in range(30)]
    await put_many(admin_storage, bucket, keys)
    await admin_storage.upload_file(bucket=bucket, key="keep/me", data=b"x")
    fault_proxy.rules.delete_errors = {"tmp/013": "AccessDenied"}
    await start_in_process(STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url)
    cli = functools.partial(run_cli, cli_env)

    dry = await cli("delete-prefix", f"{bucket}/tmp/", "--dry-run", "--watch", "--json")
    assert dry.code == 0, dry.err
    assert (dry.data["dry_run"], dry.data["listed"], dry.data["failed"]) == (True, 30, 0)
    assert len(await admin_storage.list_files(bucket=bucket, prefix="tmp/")) == 30

    denied = await cli("delete-prefix", f"{bucket}/tmp/", "--watch", "--json")
    assert denied.code == 1, denied.out + denied.err
    assert (denied.data["listed"], denied.data["deleted"], denied.data["failed"]) == (30, 29, 1)
    assert await admin_storage.list_files(bucket=bucket, prefix="tmp/") == ["tmp/013"]
    report = await admin_storage.fetch_file(
        bucket=denied.data["report_bucket"], key=denied.data["report_key"]
    )
    (line,) = [json.loads(x) for x in report.splitlines()]
    assert (line["key"], line["error_code"]) == ("tmp/013", "AccessDenied")

    fault_proxy.rules.delete_errors = {}
    clean = await cli("delete-prefix", f"{bucket}/tmp/", "--watch", "--json")
    assert clean.code == 0, clean.err
    assert (clean.data["listed"], clean.data["deleted"], clean.data["failed"]) == (1, 1, 0)
    assert await admin_storage.list_files(bucket=bucket, prefix="tmp/") == []
    assert await admin_storage.list_files(bucket=bucket, prefix="keep/") == ["keep/me"]


async def test_prefix_commands_refuse_bad_input_and_unknown_jobs(
    cli_env: dict[str, str],
) -> None:
    """Bad locations exit 2 (nothing enqueued); progress of an unknown job exits 3."""
    unknown = f"no-such-{uuid.uuid4().hex}"
    bad_migrate, bad_delete, missing, missing_json = await asyncio.gather(
        run_cli(cli_env, "migrate", "Bad_Bucket/a/", "dst-bucket/b/", "--json"),
        run_cli(cli_env, "delete-prefix", "some-bucket", "--json"),  # no prefix: everything
        run_cli(cli_env, "progress", unknown),
        run_cli(cli_env, "progress", unknown, "--json"),
    )
    for run in (bad_migrate, bad_delete):
        assert run.code == 2, run
        assert run.out == "" and "Error:" in run.err and "Traceback" not in run.err
    assert "src_bucket" in bad_migrate.err
    assert "prefix" in bad_delete.err
    for run in (missing, missing_json):
        assert run.code == 3, run
        assert f"no progress recorded for job {unknown}" in run.err
