"""``storage-jobs dev``: the embedded stack and its demo."""

from __future__ import annotations

import click

__all__ = ["dev"]


@click.command()
@click.option(
    "--exit-after-demo", is_flag=True, help="Stop everything once the demo has printed its table."
)
def dev(exit_after_demo: bool) -> None:
    """Start Redis, SeaweedFS (S3) and a worker here, and demo every job kind.

    Needs no Docker and no running services. Ctrl-C stops everything.
    """
    # Imported here: the stack's servers and the demo are this command's alone.
    from ..devstack.redis import find_redis_server
    from ..devstack.seaweedfs import find_weed
    from ._dev import dev as run_dev

    try:  # both servers found before anything starts: one line saying what to install
        find_redis_server()
        find_weed()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    run_dev(exit_after_demo)
