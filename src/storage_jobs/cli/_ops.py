"""Operations commands: enqueue jobs, follow them, inspect the queue, dead letters and health.

Registered on the ``cli`` group by importing this module (``_main.py`` does so at its end).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError
from rich.table import Table

from ..client import JobFailedError, JobHandle, JobStatus, StorageJobsClient
from ..deadletters import DeadLetterStore
from ..jobs import CopyJob, DeleteJob, JobModel, JobRejectedError, UploadJob
from ._common import (
    EXIT_FAILED,
    EXIT_NOT_READY,
    EXIT_OK,
    Output,
    dump,
    fields_table,
    json_option,
    load_settings,
    run_with_redis,
    validation_message,
)
from ._main import cli

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["enqueue", "result", "status"]

F = TypeVar("F", bound=Callable[..., Any])

_MAX_FAILED_ROWS = 50


# -- shared: waiting for and printing a job's outcome ---------------------------------------------


async def wait_for(handle: JobHandle, wait: float) -> tuple[int, dict[str, Any]]:
    """Waits up to ``wait`` seconds for a job; returns ``(exit code, JSON-ready outcome)``."""
    try:
        value = await handle.result(timeout=wait)
    except JobFailedError as exc:
        error = {"error_type": exc.error_type, "code": exc.code, "message": exc.message}
        return EXIT_FAILED, {"job_id": handle.job_id, "status": "failed", "error": error}
    except TimeoutError:
        status = await handle.status()
        letter = None
        if status == JobStatus.FAILED:
            # Dead-lettered, and arq is about to finish it: the dead letter has the error.
            letter = await DeadLetterStore(handle.redis, handle.queue_name).get(handle.job_id)
        if letter is None:
            return EXIT_NOT_READY, {"job_id": handle.job_id, "status": status.value}
        error = {"error_type": letter.error_type, "code": letter.code, "message": letter.message}
        return EXIT_FAILED, {"job_id": handle.job_id, "status": "failed", "error": error}
    return EXIT_OK, {"job_id": handle.job_id, "status": "complete", "result": dump(value)}


def print_outcome(out: Output, outcome: dict[str, Any]) -> None:
    """A job's result as tables, its failure or its state as one line."""
    job_id, status = outcome["job_id"], outcome["status"]
    if status == "complete":
        value = outcome.get("result")
        if not isinstance(value, dict):
            out.table(fields_table(f"job {job_id}: complete", {"result": value}))
            return
        failed = value.get("failed")
        summary = {k: v for k, v in value.items() if k != "failed"}
        if isinstance(failed, list):
            summary["failed"] = len(failed)
        out.table(fields_table(f"job {job_id}: complete", summary))
        if isinstance(failed, list) and failed:
            table = Table(title="keys not deleted", title_justify="left")
            for column in ("key", "code", "message"):
                table.add_column(column, overflow="fold")
            for item in failed[:_MAX_FAILED_ROWS]:
                table.add_row(str(item.get("key")), str(item.get("code")), item.get("message", ""))
            out.table(table)
            if len(failed) > _MAX_FAILED_ROWS:
                out.line(f"... and {len(failed) - _MAX_FAILED_ROWS} more (see --json)")
    elif status == "failed":
        error = outcome.get("error") or {}
        code = f" [{error['code']}]" if error.get("code") else ""
        out.line(
            f"job {job_id} failed: {error.get('error_type', 'JobFailed')}{code}: "
            f"{error.get('message', '')}"
        )
    elif status == JobStatus.NOT_FOUND.value:
        out.line(f"job {job_id}: not found (never enqueued, or its result expired)")
    else:
        out.line(f"job {job_id}: not finished ({status})")


# -- enqueue ---------------------------------------------------------------------------------------


def _job_options(command: F) -> F:
    command = json_option(command)
    command = click.option(
        "--wait",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help="Wait up to SECONDS for the job and print its result "
        "(exit 1 if it failed, 3 if it did not finish in time).",
    )(command)
    return click.option(
        "--job-id",
        help="Your id for the job; enqueueing the same id again adds nothing (the job runs once).",
    )(command)


def _enqueue(
    job_factory: Callable[[], JobModel], job_id: str | None, wait: float | None, as_json: bool
) -> None:
    settings = load_settings()
    try:
        job = job_factory()
    except ValidationError as exc:
        raise click.UsageError(f"invalid job: {validation_message(exc)}") from None
    client = StorageJobsClient(settings=settings)
    try:
        client.limits.check(job)  # before connecting: a refused job never touches Redis
    except JobRejectedError as exc:
        raise click.UsageError(f"job refused: {exc}") from None
    if job_id is not None and not job_id.strip():
        raise click.UsageError("--job-id must not be empty")
    out = Output(as_json)

    async def body(redis: Redis) -> int:
        producer = StorageJobsClient.on_connection(redis, settings)
        handle = await producer.enqueue(job, job_id=job_id)
        data: dict[str, Any] = {"job_id": handle.job_id, "enqueued": handle.enqueued}
        code = EXIT_OK
        if wait is not None:
            code, outcome = await wait_for(handle, wait)
            data.update(outcome)
        if as_json:
            out.json(data)
            return code
        out.line(handle.job_id)
        if not handle.enqueued:
            out.error(f"note: a job with id {handle.job_id} already exists; nothing was added")
        if wait is not None:
            print_outcome(out, data)
        return code

    run_with_redis(settings, body)


@cli.group(short_help="Validate and enqueue an upload, copy or delete job.")
def enqueue() -> None:
    """Validate and enqueue one job, print its id (and with --wait, its result).

    A job that breaks a rule (bucket or key name, upload roots, size limits) is refused with
    exit code 2 and nothing is enqueued.
    """


@enqueue.command("upload")
@click.argument("bucket")
@click.argument("key")
@click.option("--data", help="Upload this text (UTF-8) as the object's body.")
@click.option(
    "--file",
    "file_path",
    type=click.Path(dir_okay=False),
    help="Upload this file; the worker reads it, so it must lie under STORAGE_JOBS_UPLOAD_ROOTS "
    "on the workers' hosts too.",
)
@click.option("--content-type", help="The object's Content-Type.")
@_job_options
def upload(
    bucket: str,
    key: str,
    data: str | None,
    file_path: str | None,
    content_type: str | None,
    job_id: str | None,
    wait: float | None,
    as_json: bool,
) -> None:
    """Upload --data or --file to KEY in BUCKET."""
    if (data is None) == (file_path is None):
        raise click.UsageError("give exactly one of --data or --file")

    def build() -> JobModel:
        if data is not None:
            return UploadJob(bucket=bucket, key=key, data=data.encode(), content_type=content_type)
        assert file_path is not None
        return UploadJob(
            bucket=bucket, key=key, path=os.path.abspath(file_path), content_type=content_type
        )

    _enqueue(build, job_id, wait, as_json)


@enqueue.command("copy")
@click.argument("src_bucket")
@click.argument("src_key")
@click.argument("dst_key")
@click.option("--dst-bucket", help="Copy into this bucket (default: SRC_BUCKET).")
@click.option(
    "--skip-if-identical",
    is_flag=True,
    help="Leave the destination alone when it already holds the same bytes.",
)
@_job_options
def copy(
    src_bucket: str,
    src_key: str,
    dst_key: str,
    dst_bucket: str | None,
    skip_if_identical: bool,
    job_id: str | None,
    wait: float | None,
    as_json: bool,
) -> None:
    """Copy SRC_KEY of SRC_BUCKET to DST_KEY, server-side."""
    _enqueue(
        lambda: CopyJob(
            src_bucket=src_bucket,
            src_key=src_key,
            dst_key=dst_key,
            dst_bucket=dst_bucket,
            skip_if_identical=skip_if_identical,
        ),
        job_id,
        wait,
        as_json,
    )


@enqueue.command("delete", short_help="Delete keys from BUCKET in one bulk job.")
@click.argument("bucket")
@click.argument("keys", nargs=-1)
@click.option(
    "--keys-from",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Also delete the keys in FILE, one per line ('-' reads stdin).",
)
@_job_options
def delete(
    bucket: str,
    keys: tuple[str, ...],
    keys_from: IO[str] | None,
    job_id: str | None,
    wait: float | None,
    as_json: bool,
) -> None:
    """Delete KEY... (and/or the keys of --keys-from) from BUCKET, in one bulk job."""
    all_keys = list(keys)
    if keys_from is not None:
        all_keys.extend(k for k in (line.rstrip("\r\n") for line in keys_from) if k)
    if not all_keys:
        raise click.UsageError("no keys to delete: give KEY... or --keys-from")
    _enqueue(lambda: DeleteJob(bucket=bucket, keys=all_keys), job_id, wait, as_json)


# -- status and result -----------------------------------------------------------------------------


@cli.command()
@click.argument("job_id")
@json_option
def status(job_id: str, as_json: bool) -> None:
    """Print a job's status.

    One of queued, deferred, in_progress, complete, failed, not_found (exit code 0 for all).
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(redis: Redis) -> int:
        state = await StorageJobsClient.on_connection(redis, settings).status(job_id)
        if as_json:
            out.json({"job_id": job_id, "status": state.value})
        else:
            out.line(f"{job_id}: {state.value}")
        return EXIT_OK

    run_with_redis(settings, body)


@cli.command()
@click.argument("job_id")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Wait up to SECONDS for the job to finish (default: don't wait).",
)
@json_option
def result(job_id: str, wait: float, as_json: bool) -> None:
    """Print a finished job's typed result.

    Exit codes: 0 with the result; 1 when the job failed (its error type, code and message are
    printed); 3 when it has not finished (in time) or there is no such job.
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(redis: Redis) -> int:
        client = StorageJobsClient.on_connection(redis, settings)
        if await client.status(job_id) == JobStatus.NOT_FOUND:
            code, outcome = EXIT_NOT_READY, {"job_id": job_id, "status": "not_found"}
        else:
            code, outcome = await wait_for(client.handle(job_id), wait)
        if as_json:
            out.json(outcome)
        else:
            print_outcome(out, outcome)
        return code

    run_with_redis(settings, body)


# The other command groups register themselves on import.
from . import _deadletters_cmd, _queue_cmd  # noqa: E402,F401
