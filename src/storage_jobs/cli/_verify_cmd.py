"""``storage-jobs verify``: compare a prefix with its copy (missing, extra, different)."""

from __future__ import annotations

from typing import Any

import click

from ..jobs import VerifyJob
from ._filter_options import filter_fields, filter_options
from ._migrate_cmd import build_job, enqueue_and_watch, split_location
from ._output import json_option

__all__ = ["verify"]


@click.command()
@click.argument("source", metavar="SRC_BUCKET/PREFIX")
@click.argument("destination", metavar="DST_BUCKET/PREFIX")
@click.option("--watch", is_flag=True, help="Show a live progress bar while it runs.")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Only enqueue and print the job id (exit 0 then says nothing about the copies).",
)
@click.option("--src-profile", help="Source profile (STORAGE_JOBS_SOURCE_PROFILES) to read from.")
@click.option(
    "--checksum",
    type=click.Choice(["crc32c", "sha256"]),
    help="Compare this checksum of both sides (the server's where it holds one, else read and "
    "hashed), whatever their ETags say.",
)
@click.option("--batch-size", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option(
    "--report",
    type=click.Choice(["failures", "all"]),
    default="failures",
    show_default=True,
    help="failures: only keys that do not match; all: every key.",
)
@filter_options
@click.option("--job-id", help="Your id for the verification.")
@json_option
def verify(source: str, destination: str, **options: Any) -> None:
    """Check that DST_BUCKET/PREFIX holds what SRC_BUCKET/PREFIX holds, like ``rclone check``.

    Writes a report of the keys that are missing, extra or different, waits for it and exits 0
    only when everything matches (1 otherwise), so ``verify && delete the source`` is safe.
    """
    if options["no_wait"] and options["watch"]:
        raise click.UsageError("--no-wait and --watch exclude each other")
    src_bucket, src_prefix = split_location(source)
    dst_bucket, dst_prefix = split_location(destination)
    job = build_job(
        VerifyJob,
        src_bucket=src_bucket,
        src_prefix=src_prefix,
        dst_bucket=dst_bucket,
        dst_prefix=dst_prefix,
        src_endpoint=options["src_profile"],
        checksum=options["checksum"],
        batch_size=options["batch_size"],
        report=options["report"],
        **filter_fields(options),
    )
    # Waiting is the default: an exit code that only says "enqueued" would pass for a match.
    enqueue_and_watch(
        job,
        options["job_id"],
        not options["no_wait"],
        options["as_json"],
        "matched",
        bar=options["watch"],
    )
