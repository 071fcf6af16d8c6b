"""``storage-jobs migrate``, ``delete-prefix`` and ``progress``: prefix jobs, watched live."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..client import JobCancelledError, JobFailedError, JobStatus, Priority, StorageJobsClient
from ..jobs import DeletePrefixJob, JobModel, MigrateJob, MigrationProgress
from ._attribute_options import migrate_write_fields, migrate_write_options
from ._exit_codes import EXIT_FAILED, EXIT_NOT_READY, EXIT_OK, EXIT_USAGE
from ._filter_options import filter_fields, filter_options, manifest_field, manifest_options
from ._output import Output, dump, json_option
from ._redis_session import load_settings, run_with_queue, validation_message

__all__ = [
    "build_job",
    "delete_prefix",
    "enqueue_and_watch",
    "migrate",
    "progress",
    "split_location",
]


def split_location(location: str) -> tuple[str, str]:
    """``BUCKET/PREFIX`` -> (bucket, prefix)."""
    bucket, _, prefix = location.partition("/")
    return bucket, prefix


def build_job(factory: type[JobModel], **fields: object) -> JobModel:
    """Builds a job from command options, exiting with a usage error naming a bad field."""
    try:
        return factory(**fields)
    except ValidationError as exc:
        click.echo(f"Error: {validation_message(exc)}", err=True)
        raise SystemExit(EXIT_USAGE) from None


@click.command()
@click.argument("source", metavar="SRC_BUCKET/PREFIX")
@click.argument("destination", metavar="DST_BUCKET/PREFIX")
@click.option("--watch", is_flag=True, help="Show a live progress bar and a summary at the end.")
@click.option("--dry-run", is_flag=True, help="List what would be copied; change nothing.")
@click.option("--src-profile", help="Source profile (STORAGE_JOBS_SOURCE_PROFILES) to copy from.")
@click.option("--no-skip-identical", is_flag=True, help="Copy even identical destinations.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option(
    "--report",
    type=click.Choice(["failures", "all"]),
    default="failures",
    show_default=True,
    help="What the JSON Lines completion report lists.",
)
@click.option("--verify", is_flag=True, help="Read every copy back and compare it to its source.")
@click.option(
    "--delete-extraneous",
    is_flag=True,
    help="Sync: after every copy succeeded, delete destination keys the source lacks.",
)
@click.option(
    "--max-delete",
    type=click.IntRange(0),
    help="With --delete-extraneous: delete none and fail if more than this many would go.",
)
@click.option(
    "--max-failure-ratio",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Stop and fail once more than this share of keys failed (e.g. 0.5).",
)
@click.option(
    "--min-tasks-before-threshold",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Keys with an outcome before --max-failure-ratio applies.",
)
@click.option("--all-versions", is_flag=True, help="Copy every version (versioned buckets).")
@click.option(
    "--checksum",
    type=click.Choice(["crc32c", "sha256"]),
    help="Record each source's checksum on its copy (S3 additional checksum where kept, and "
    "sj-crc32c / sj-sha256 metadata); --verify then compares it.",
)
@migrate_write_options
@click.option(
    "--restore-archived",
    is_flag=True,
    help="Restore GLACIER / DEEP_ARCHIVE sources first, wait (off the queue), then copy.",
)
@click.option("--restore-days", type=click.IntRange(1, 365), default=1, show_default=True)
@click.option(
    "--restore-tier",
    type=click.Choice(["Expedited", "Standard", "Bulk"]),
    default="Standard",
    show_default=True,
)
@click.option(
    "--restore-check-s",
    type=click.FloatRange(1, 86400),
    help="Seconds between checks of restores (default by tier: 60 / 900 / 1800).",
)
@manifest_options
@filter_options
@click.option("--job-id", help="Your id for the migration (re-using one resumes or no-ops).")
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "bulk"]),
    help="The lane of its batches (default: bulk, so interactive jobs go first).",
)
@json_option
def migrate(source: str, destination: str, **options: Any) -> None:
    """Copy every object under SRC_BUCKET/PREFIX to DST_BUCKET/PREFIX (key suffix kept).

    Resumable: workers killed mid-way pick up where they were. Identical destinations
    (same size and checksum) are skipped, so re-running a finished migration copies nothing.
    """
    src_bucket, src_prefix = split_location(source)
    dst_bucket, dst_prefix = split_location(destination)
    job = build_job(
        MigrateJob,
        src_bucket=src_bucket,
        src_prefix=src_prefix,
        dst_bucket=dst_bucket,
        dst_prefix=dst_prefix,
        src_endpoint=options["src_profile"],
        dry_run=options["dry_run"],
        skip_if_identical=not options["no_skip_identical"],
        batch_size=options["batch_size"],
        report=options["report"],
        verify=options["verify"],
        delete_extraneous=options["delete_extraneous"],
        max_delete=options["max_delete"],
        max_failure_ratio=options["max_failure_ratio"],
        min_tasks_before_threshold=options["min_tasks_before_threshold"],
        all_versions=options["all_versions"],
        checksum=options["checksum"],
        manifest=manifest_field(options),
        # ``storage-jobs move`` is this command with its own name (``_move_cmd``).
        delete_source=options.get("delete_source", False),
        restore_archived=options["restore_archived"],
        restore_days=options["restore_days"],
        restore_tier=options["restore_tier"],
        restore_check_s=options["restore_check_s"],
        **filter_fields(options),
        **migrate_write_fields(options),
    )
    enqueue_and_watch(
        job, options["job_id"], options["watch"], options["as_json"], "copied", options["priority"]
    )


@click.command("delete-prefix")
@click.argument("location", metavar="BUCKET/PREFIX")
@click.option("--watch", is_flag=True, help="Show a live progress bar and a summary at the end.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option(
    "--report",
    type=click.Choice(["failures", "all"]),
    default="failures",
    show_default=True,
    help="What the JSON Lines completion report lists.",
)
@click.option("--all-versions", is_flag=True, help="Delete every version and delete marker too.")
@manifest_options
@filter_options
@click.option("--job-id", help="Your id for the delete (re-using one resumes or no-ops).")
@click.option(
    "--priority",
    type=click.Choice(["high", "normal", "bulk"]),
    help="The lane of its batches (default: bulk, so interactive jobs go first).",
)
@json_option
def delete_prefix(location: str, **options: Any) -> None:
    """Delete everything under BUCKET/PREFIX, retrying per-key failures worth retrying.

    With --manifest, delete the keys under BUCKET/PREFIX that the manifest names.
    """
    bucket, prefix = split_location(location)
    job = build_job(
        DeletePrefixJob,
        bucket=bucket,
        prefix=prefix,
        dry_run=options["dry_run"],
        batch_size=options["batch_size"],
        report=options["report"],
        all_versions=options["all_versions"],
        manifest=manifest_field(options),
        **filter_fields(options),
    )
    enqueue_and_watch(
        job, options["job_id"], options["watch"], options["as_json"], "deleted", options["priority"]
    )


@click.command()
@click.argument("job_id")
@click.option("--watch", is_flag=True, help="Follow it live until it finishes.")
@json_option
def progress(job_id: str, watch: bool, as_json: bool) -> None:
    """Show the progress of a migration or prefix delete."""
    settings = load_settings()
    out = Output(as_json)

    async def body(_: object) -> int:
        async with StorageJobsClient(settings=settings) as jobs:
            if watch:
                return await _watch(jobs, job_id, out, "done")
            current = await jobs.progress(job_id)
            if current.status == "unknown":
                out.error(f"no progress recorded for job {job_id}")
                return EXIT_NOT_READY
            _print_progress(out, current, "done")
            return EXIT_OK

    run_with_queue(settings, body)


def enqueue_and_watch(
    job: JobModel,
    job_id: str | None,
    watch: bool,
    as_json: bool,
    done_label: str,
    priority: Priority | None = None,
    *,
    bar: bool = True,
) -> None:
    """Enqueues a prefix job; with ``watch``, follows it and exits with its outcome.

    ``bar=False`` waits just the same without drawing the live bar (the summary still prints).
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(_: object) -> int:
        async with StorageJobsClient(settings=settings) as jobs:
            handle = await jobs.enqueue(job, job_id=job_id, priority=priority)
            if not handle.enqueued:
                out.error(f"job {handle.job_id} already exists; watching it")
            if not watch:
                if as_json:
                    out.json({"job_id": handle.job_id, "enqueued": handle.enqueued})
                else:
                    out.line(handle.job_id)
                return EXIT_OK
            return await _watch(jobs, handle.job_id, out, done_label, bar=bar)

    run_with_queue(settings, body)


async def _watch(
    jobs: StorageJobsClient, job_id: str, out: Output, done_label: str, *, bar: bool = True
) -> int:
    handle = jobs.handle(job_id)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    hidden = out.as_json or not bar
    with Progress(*columns, console=out.console, disable=hidden, transient=False) as live:
        task = live.add_task(job_id[:16], total=None, detail="waiting for a worker")
        while True:
            current = await jobs.progress(job_id)
            total = current.listed if current.listing_done else None
            live.update(
                task,
                completed=current.processed,
                total=total,
                detail=_detail(current, done_label),
            )
            status = await handle.status()
            if status in (JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED):
                break
            await asyncio.sleep(0.5)
    try:
        result = await handle.result(timeout=5)
    except JobFailedError as exc:
        out.error(f"job {job_id} failed: {exc.error_type} ({exc.code}): {exc.message}")
        return EXIT_FAILED
    except JobCancelledError:
        out.error(f"job {job_id} was cancelled")
        _print_progress(out, await jobs.progress(job_id), done_label)
        return EXIT_FAILED
    if out.as_json:
        out.json(dump(result))
    else:
        _print_progress(out, await jobs.progress(job_id), done_label)
    # A verification that found differences fails like a job with failed keys.
    bad = ("failed", "missing", "extra", "different")
    return EXIT_FAILED if any(getattr(result, name, 0) for name in bad) else EXIT_OK


def _detail(current: MigrationProgress, done_label: str) -> str:
    text = (
        f"{current.status}: {current.done:,} {done_label}, {current.skipped:,} skipped,"
        f" {current.failed:,} failed, {current.bytes / 1e6:,.1f} MB"
    )
    return text + "".join(f", {n}" for n in _other_outcomes(current))


_OTHER_OUTCOMES = (
    "filtered",
    "rejected",
    "verified",
    "mismatch",
    "moved",
    "restoring",
    "extraneous_deleted",
    "missing",
    "extra",
    "different",
)


def _other_outcomes(current: MigrationProgress) -> list[str]:
    return [f"{getattr(current, n):,} {n}" for n in _OTHER_OUTCOMES if getattr(current, n)]


def _print_progress(out: Output, current: MigrationProgress, done_label: str) -> None:
    if out.as_json:
        out.json(current.model_dump(mode="json"))
        return
    table = Table(title=f"{current.kind or 'job'} {current.migration_id}", title_justify="left")
    columns = (
        "status",
        "listed",
        done_label,
        "skipped",
        "failed",
        "other",
        "MB",
        "batches",
        "report",
    )
    for column in columns:
        table.add_column(column)
    report = f"{current.report_bucket}/{current.report_key}" if current.report_key else ""
    table.add_row(
        current.status + (" (dry run)" if current.dry_run else ""),
        f"{current.listed:,}",
        f"{current.done:,}",
        f"{current.skipped:,}",
        f"{current.failed:,}",
        ", ".join(_other_outcomes(current)),
        f"{current.bytes / 1e6:,.1f}",
        f"{current.batches_done}/{current.pages}",
        report,
    )
    out.table(table)
