"""``storage-jobs``: run workers and operate the queue."""

from __future__ import annotations

import click

from ..logs import configure_logging
from ..settings import Settings

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Background S3 storage jobs on a Redis queue.

    Every command reads its configuration from STORAGE_JOBS_* environment variables.
    """


@cli.command()
@click.option("--max-jobs", type=int, help="Jobs run at once (STORAGE_JOBS_MAX_JOBS).")
@click.option("--queue", "queue_name", help="Queue name (STORAGE_JOBS_QUEUE_NAME).")
def worker(max_jobs: int | None, queue_name: str | None) -> None:
    """Run a worker until SIGTERM/SIGINT (then finish or re-queue running jobs)."""
    from ..worker import build_worker

    overrides = {k: v for k, v in {"max_jobs": max_jobs, "queue_name": queue_name}.items() if v}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings)
    build_worker(settings).run()


@cli.command()
@click.option(
    "--exit-after-demo", is_flag=True, help="Stop everything once the demo has printed its table."
)
def dev(exit_after_demo: bool) -> None:
    """Start Redis, SeaweedFS (S3) and a worker here, and demo every job kind.

    Needs no Docker and no running services. Ctrl-C stops everything.
    """
    from ._dev import dev as run_dev

    run_dev(exit_after_demo)


def main() -> None:
    """Console script entry point."""
    cli()


# The other commands register themselves on `cli` when imported.
from . import _migrate_cmd, _ops  # noqa: E402, F401
