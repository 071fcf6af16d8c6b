"""Every issue-14 option of the CLI becomes the job field of the same meaning (no Redis).

The e2e tests run these jobs through the client; here each command's options are checked to
build exactly the job the client would get, so the CLI offers every option the API has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from storage_jobs.cli import cli
from storage_jobs.jobs import (
    CopyJob,
    DeletePrefixJob,
    JobModel,
    Manifest,
    MigrateJob,
    UploadJob,
    VerifyJob,
)

ENV = {"STORAGE_JOBS_REDIS_URL": "redis://127.0.0.1:1/0"}
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 6, 1, 12, tzinfo=UTC)
FILTERS = [
    "--include",
    "*.jpg",
    "--include",
    "**/*.png",
    "--exclude",
    "/tmp/**",
    "--min-size",
    "1",
    "--max-size",
    "1000",
    "--modified-after",
    "2024-01-01T00:00:00+00:00",
    "--modified-before",
    "2025-06-01T12:00:00Z",
    "--storage-class",
    "STANDARD",
    "--storage-class",
    "GLACIER",
]
FILTER_FIELDS: dict[str, Any] = {
    "include": ["*.jpg", "**/*.png"],
    "exclude": ["/tmp/**"],
    "min_size": 1,
    "max_size": 1000,
    "modified_after": T0,
    "modified_before": T1,
    "storage_classes": ["STANDARD", "GLACIER"],
}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[JobModel, dict[str, Any]]]:
    """The jobs the commands hand to the enqueue step, with how they are to be waited for."""
    jobs: list[tuple[JobModel, dict[str, Any]]] = []

    def watch(job: JobModel, job_id: str | None, watch: bool, *args: Any, **kw: Any) -> None:
        jobs.append((job, {"job_id": job_id, "wait": watch, **kw}))

    def enqueue(build: Any, job_id: str | None, wait: float | None, *args: Any) -> None:
        jobs.append((build(), {"job_id": job_id, "wait": wait}))

    monkeypatch.setattr("storage_jobs.cli._migrate_cmd.enqueue_and_watch", watch)
    monkeypatch.setattr("storage_jobs.cli._verify_cmd.enqueue_and_watch", watch)
    monkeypatch.setattr("storage_jobs.cli._enqueue_cmd._enqueue", enqueue)
    return jobs


def run(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args), env=ENV)
    assert result.exit_code == 0, result.output


def test_migrate_options(built: list[tuple[JobModel, dict[str, Any]]]) -> None:
    run(
        "migrate",
        "src-b/p/",
        "dst-b/q/",
        "--verify",
        "--checksum",
        "crc32c",
        "--delete-extraneous",
        "--max-delete",
        "7",
        "--max-failure-ratio",
        "0.5",
        "--min-tasks-before-threshold",
        "100",
        "--dry-run",
        "--report",
        "all",
        *FILTERS,
    )
    run(
        "migrate",
        "src-b/p/",
        "dst-b/q/",
        "--manifest",
        "s3://inv-b/daily/manifest.json",
        "--manifest-format",
        "s3-inventory",
    )
    run("migrate", "src-b/p/", "dst-b/q/", "--all-versions", "--max-failure-ratio", "0.25")
    assert [job for job, _ in built] == [
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            verify=True,
            checksum="crc32c",
            delete_extraneous=True,
            max_delete=7,
            max_failure_ratio=0.5,
            min_tasks_before_threshold=100,
            dry_run=True,
            report="all",
            **FILTER_FIELDS,
        ),
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            manifest=Manifest(bucket="inv-b", key="daily/manifest.json", format="s3-inventory"),
        ),
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            all_versions=True,
            max_failure_ratio=0.25,
        ),
    ]


def test_move_is_migrate_with_delete_source(
    built: list[tuple[JobModel, dict[str, Any]]],
) -> None:
    run("move", "src-b/p/", "dst-b/q/", "--verify", "--checksum", "sha256", *FILTERS)
    run(
        "move",
        "src-b/p/",
        "dst-b/q/",
        "--dry-run",
        "--report",
        "all",
        "--restore-archived",
        "--restore-days",
        "3",
        "--restore-tier",
        "Bulk",
        "--restore-check-s",
        "5",
    )
    assert [job for job, _ in built] == [
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            verify=True,
            checksum="sha256",
            delete_source=True,
            **FILTER_FIELDS,
        ),
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            dry_run=True,
            report="all",
            delete_source=True,
            restore_archived=True,
            restore_days=3,
            restore_tier="Bulk",
            restore_check_s=5,
        ),
    ]
    # A move of every version is refused (it would make older versions current again).
    result = CliRunner().invoke(cli, ["move", "a-b/", "d-b/", "--all-versions"], env=ENV)
    assert result.exit_code == 2 and "--all-versions" in result.output


def test_delete_prefix_options(built: list[tuple[JobModel, dict[str, Any]]]) -> None:
    run("delete-prefix", "b-b/tmp/", "--manifest", "s3://m-b/gone.csv", "--include", "*.log")
    run("delete-prefix", "b-b/old/", "--all-versions", "--dry-run", *FILTERS)
    assert [job for job, _ in built] == [
        DeletePrefixJob(
            bucket="b-b",
            prefix="tmp/",
            manifest=Manifest(bucket="m-b", key="gone.csv"),
            include=["*.log"],
        ),
        DeletePrefixJob(
            bucket="b-b", prefix="old/", all_versions=True, dry_run=True, **FILTER_FIELDS
        ),
    ]


def test_verify_options_and_it_waits_unless_told(
    built: list[tuple[JobModel, dict[str, Any]]],
) -> None:
    run("verify", "src-b/p/", "dst-b/q/", "--checksum", "sha256", "--report", "all", *FILTERS)
    run("verify", "src-b/p/", "dst-b/q/", "--watch")
    run("verify", "src-b/p/", "dst-b/q/", "--no-wait")
    jobs = [job for job, _ in built]
    assert jobs[0] == VerifyJob(
        src_bucket="src-b",
        src_prefix="p/",
        dst_bucket="dst-b",
        dst_prefix="q/",
        checksum="sha256",
        report="all",
        **FILTER_FIELDS,
    )
    assert (
        jobs[1]
        == jobs[2]
        == VerifyJob(src_bucket="src-b", src_prefix="p/", dst_bucket="dst-b", dst_prefix="q/")
    )
    # Waited for by default (its exit code is the verdict), with a bar only under --watch.
    assert [(how["wait"], how["bar"]) for _, how in built] == [
        (True, False),
        (True, True),
        (False, False),
    ]


def test_upload_and_copy_checksums(built: list[tuple[JobModel, dict[str, Any]]]) -> None:
    run("enqueue", "upload", "b-b", "k", "--data", "hi", "--checksum", "crc32c")
    run("enqueue", "copy", "b-b", "a", "c", "--dst-bucket", "d-b", "--checksum", "sha256")
    expected: list[JobModel] = [
        UploadJob(bucket="b-b", key="k", data=b"hi", checksum="crc32c"),
        CopyJob(src_bucket="b-b", src_key="a", dst_key="c", dst_bucket="d-b", checksum="sha256"),
    ]
    assert [job for job, _ in built] == expected


def test_write_options_build_their_fields(built: list[tuple[JobModel, dict[str, Any]]]) -> None:
    """Class, encryption, tags, headers, ACL and --preserve become the job fields."""
    write = [
        "--storage-class",
        "STANDARD_IA",
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        "alias/k",
        "--acl",
        "bucket-owner-full-control",
        "--tag",
        "a=1",
        "--tag",
        "b=x y",
        "--cache-control",
        "max-age=60",
        "--content-disposition",
        "inline",
        "--content-encoding",
        "gzip",
        "--content-language",
        "fr",
        "--expires",
        "2025-06-01T12:00:00Z",
    ]
    fields: dict[str, Any] = {
        "storage_class": "STANDARD_IA",
        "sse": "aws:kms",
        "sse_kms_key_id": "alias/k",
        "acl": "bucket-owner-full-control",
        "tags": {"a": "1", "b": "x y"},
        "cache_control": "max-age=60",
        "content_disposition": "inline",
        "content_encoding": "gzip",
        "content_language": "fr",
        "expires": T1,
    }
    run("enqueue", "upload", "b-b", "k", "--data", "hi", *write)
    run("enqueue", "copy", "b-b", "a", "c", *write, "--preserve", "tags,storage_class")
    run("enqueue", "copy", "b-b", "a", "c", "--preserve", "none")
    run(
        "migrate",
        "src-b/p/",
        "dst-b/q/",
        "--dst-storage-class",
        "GLACIER_IR",
        "--sse",
        "AES256",
        "--acl",
        "private",
        "--preserve",
        "sse,object_lock",
    )
    expected: list[JobModel] = [
        UploadJob(bucket="b-b", key="k", data=b"hi", **fields),
        CopyJob(
            src_bucket="b-b",
            src_key="a",
            dst_key="c",
            preserve=["tags", "storage_class"],
            **fields,
        ),
        CopyJob(src_bucket="b-b", src_key="a", dst_key="c", preserve=False),
        MigrateJob(
            src_bucket="src-b",
            src_prefix="p/",
            dst_bucket="dst-b",
            dst_prefix="q/",
            dst_storage_class="GLACIER_IR",
            sse="AES256",
            acl="private",
            preserve=["sse", "object_lock"],
        ),
    ]
    assert [job for job, _ in built] == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--sse", "AES256", "--sse-kms-key-id", "k"], "sse_kms_key_id"),
        (["--storage-class", "COLD"], "storage-class"),
        ([f"--tag=k{i}=v" for i in range(11)], "tags"),
        (["--tag", "k=" + "v" * 257], "tags"),
        (["--tag", "k" * 129 + "=v"], "tags"),
        (["--tag", "k=a%b"], "tags"),
        (["--preserve", "colour"], "preserve"),
    ],
)
def test_bad_write_options_are_refused_before_redis(args: list[str], field: str) -> None:
    """S3's tag limits, class names and a KMS key without aws:kms are usage errors (exit 2)."""
    result = CliRunner().invoke(cli, ["enqueue", "copy", "b-b", "a", "c", *args], env=ENV)
    assert result.exit_code == 2, result.output
    assert field in result.output
