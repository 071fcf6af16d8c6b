"""``storage-jobs enqueue upload|copy|delete``: validate, enqueue, print the id (or wait)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from ..client import StorageJobsClient
from ..jobs import CopyJob, DeleteJob, JobModel, JobRejectedError, UploadJob
from ..queue import Priority
from ._attribute_options import preserve_option, write_fields, write_options
from ._exit_codes import EXIT_OK
from ._outcome import print_outcome, wait_for
from ._output import Output, json_option
from ._redis_session import client_on, load_settings, run_with_queue, validation_message

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["JOB_SINK", "enqueue"]

JOB_SINK = "storage_jobs.job_sink"
"""A key of click's ``ctx.meta``: a callable there takes the built, checked job (with its
``--job-id``, ``--wait`` and ``--priority``) instead of it being enqueued. ``schedule add`` runs
these commands that way, so a job is given to it exactly as to ``enqueue``."""

F = TypeVar("F", bound=Callable[..., Any])


def _job_options(command: F) -> F:
    command = json_option(command)
    command = click.option(
        "--priority",
        type=click.Choice(["high", "normal", "bulk"]),
        default="normal",
        show_default=True,
        help="The job's lane: workers take high before normal before bulk (each lower lane "
        "still gets one claim in 8).",
    )(command)
    command = click.option(
        # --expires is the object's Expires header (write_options): this is the job's expiry.
        "--expires-in",
        "job_expires",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Never run the job if it has not started within SECONDS (it ends 'expired').",
    )(command)
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
    job_factory: Callable[[], JobModel],
    job_id: str | None,
    wait: float | None,
    as_json: bool,
    priority: Priority = "normal",
    expires: float | None = None,
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
    if (sink := click.get_current_context().meta.get(JOB_SINK)) is not None:
        sink(job, job_id=job_id, wait=wait, priority=priority)
        return
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        producer = client_on(queue, settings)
        handle = await producer.enqueue(job, job_id=job_id, priority=priority, expires=expires)
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

    run_with_queue(settings, body)


@click.group(short_help="Validate and enqueue an upload, copy or delete job.")
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
@click.option(
    "--checksum",
    type=click.Choice(["crc32c", "sha256"]),
    help="Record the object's checksum: S3's additional checksum where the server keeps them, "
    "and sj-crc32c / sj-sha256 metadata (computed by the worker).",
)
@write_options
@_job_options
def upload(
    bucket: str,
    key: str,
    data: str | None,
    file_path: str | None,
    content_type: str | None,
    checksum: str | None,
    job_id: str | None,
    wait: float | None,
    as_json: bool,
    priority: Priority,
    job_expires: float | None,
    **write: Any,
) -> None:
    """Upload --data or --file to KEY in BUCKET."""
    if (data is None) == (file_path is None):
        raise click.UsageError("give exactly one of --data or --file")
    fields = write_fields(write, preserve=False)

    def build() -> JobModel:
        if data is not None:
            return UploadJob(
                bucket=bucket,
                key=key,
                data=data.encode(),
                content_type=content_type,
                checksum=checksum,
                **fields,
            )
        assert file_path is not None
        return UploadJob(
            bucket=bucket,
            key=key,
            path=os.path.abspath(file_path),
            content_type=content_type,
            checksum=checksum,
            **fields,
        )

    _enqueue(build, job_id, wait, as_json, priority, job_expires)


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
@click.option(
    "--checksum",
    type=click.Choice(["crc32c", "sha256"]),
    help="Record the object's checksum: S3's additional checksum where the server keeps them, "
    "and sj-crc32c / sj-sha256 metadata (computed by the worker).",
)
@write_options
@preserve_option
@_job_options
def copy(
    src_bucket: str,
    src_key: str,
    dst_key: str,
    dst_bucket: str | None,
    skip_if_identical: bool,
    checksum: str | None,
    job_id: str | None,
    wait: float | None,
    as_json: bool,
    priority: Priority,
    job_expires: float | None,
    **write: Any,
) -> None:
    """Copy SRC_KEY of SRC_BUCKET to DST_KEY, server-side, keeping what the source carries."""
    fields = write_fields(write, preserve=True)
    _enqueue(
        lambda: CopyJob(
            src_bucket=src_bucket,
            src_key=src_key,
            dst_key=dst_key,
            dst_bucket=dst_bucket,
            skip_if_identical=skip_if_identical,
            checksum=checksum,
            **fields,
        ),
        job_id,
        wait,
        as_json,
        priority,
        job_expires,
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
    priority: Priority,
    job_expires: float | None,
) -> None:
    """Delete KEY... (and/or the keys of --keys-from) from BUCKET, in one bulk job."""
    all_keys = list(keys)
    if keys_from is not None:
        all_keys.extend(k for k in (line.rstrip("\r\n") for line in keys_from) if k)
    if not all_keys:
        raise click.UsageError("no keys to delete: give KEY... or --keys-from")
    job = lambda: DeleteJob(bucket=bucket, keys=all_keys)  # noqa: E731
    _enqueue(job, job_id, wait, as_json, priority, job_expires)
