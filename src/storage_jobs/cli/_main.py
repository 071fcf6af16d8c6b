"""``storage-jobs``: run workers and operate the queue; each command lives in its own module."""

from __future__ import annotations

import click

from ._control_cmd import cancel, pause, resume
from ._dashboard_cmd import dashboard
from ._dead_letters_cmd import dead_letters
from ._dev_cmd import dev
from ._enqueue_cmd import enqueue
from ._events_cmd import events
from ._job_cmd import result, status
from ._migrate_cmd import delete_prefix, migrate, progress
from ._move_cmd import move
from ._queue_cmd import health, queue
from ._schedule_cmd import schedule
from ._verify_cmd import verify
from ._worker_cmd import worker

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="storage-jobs", prog_name="storage-jobs")
def cli() -> None:
    """Background S3 storage jobs on a Redis queue.

    Every command reads its configuration from STORAGE_JOBS_* environment variables.
    """


for command in (
    worker,
    dev,
    enqueue,
    status,
    result,
    queue,
    health,
    dead_letters,
    dashboard,
    migrate,
    move,
    delete_prefix,
    progress,
    cancel,
    pause,
    resume,
    verify,
    schedule,
    events,
):
    cli.add_command(command)


def main() -> None:
    """Console script entry point."""
    cli()
