"""``storage-jobs worker``: run a worker until SIGTERM/SIGINT, or until the queue drains."""

from __future__ import annotations

import asyncio

import click

from ..errors import UnsafeRedisError
from ..logs import configure_logging
from ._exit_codes import EXIT_USAGE
from ._redis_session import load_settings

__all__ = ["use_fast_event_loop", "worker"]


@click.command()
@click.option("--max-jobs", type=int, help="Jobs run at once (STORAGE_JOBS_MAX_JOBS).")
@click.option("--queue", "queue_name", help="Queue name (STORAGE_JOBS_QUEUE_NAME).")
@click.option(
    "--burst",
    is_flag=True,
    help="Exit (0) once every lane is empty and no job runs or is due within a second.",
)
def worker(max_jobs: int | None, queue_name: str | None, burst: bool) -> None:
    """Run a worker until SIGTERM/SIGINT (then finish or re-queue running jobs)."""
    # Imported here: only this command needs arq and the S3 stack.
    from ..worker import build_worker

    settings = load_settings()
    overrides = {k: v for k, v in {"max_jobs": max_jobs, "queue_name": queue_name}.items() if v}
    if overrides:
        settings = settings.model_validate({**settings.model_dump(), **overrides})
    configure_logging(settings)
    # uvloop's loop is the thread's once chosen; asyncio's default is made here.
    fast = use_fast_event_loop() == "uvloop"
    loop = asyncio.get_event_loop() if fast else asyncio.new_event_loop()
    try:
        loop.run_until_complete(build_worker(settings, burst=burst).serve())
    except UnsafeRedisError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    finally:
        loop.close()


def use_fast_event_loop() -> str:
    """Makes uvloop this thread's event loop when it is installed (the ``fast`` extra).

    The worker runs on that loop; uvloop's loop does the same work in less CPU per job (the
    worker's own share of a 1 KiB upload, see bench/README.md).

    Returns:
        The module of the loop the worker will run on (``uvloop`` or ``asyncio``).
    """
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop(uvloop.new_event_loop())
    return "uvloop"
