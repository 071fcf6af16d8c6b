"""``storage-jobs worker``: run a worker until SIGTERM/SIGINT."""

from __future__ import annotations

import click

from ..errors import UnsafeRedisError
from ..logs import configure_logging
from ._exit_codes import EXIT_USAGE
from ._redis_session import load_settings

__all__ = ["worker"]


@click.command()
@click.option("--max-jobs", type=int, help="Jobs run at once (STORAGE_JOBS_MAX_JOBS).")
@click.option("--queue", "queue_name", help="Queue name (STORAGE_JOBS_QUEUE_NAME).")
def worker(max_jobs: int | None, queue_name: str | None) -> None:
    """Run a worker until SIGTERM/SIGINT (then finish or re-queue running jobs)."""
    # Imported here: only this command needs arq and the S3 stack.
    from ..worker import build_worker

    settings = load_settings()
    overrides = {k: v for k, v in {"max_jobs": max_jobs, "queue_name": queue_name}.items() if v}
    if overrides:
        settings = settings.model_validate({**settings.model_dump(), **overrides})
    configure_logging(settings)
    try:
        build_worker(settings).run()
    except UnsafeRedisError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None
