"""``storage-jobs events``: the queue's completion events, one line each (``--follow``: live)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from ._exit_codes import EXIT_OK
from ._output import Output, json_option
from ._redis_session import client_on, load_settings, run_with_queue

if TYPE_CHECKING:
    from ..client import JobEvent
    from ..queue import Queue

__all__ = ["events"]


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as jobs end.")
@click.option(
    "--since",
    metavar="ID",
    help="Start after this event id (an event's id; default: the oldest event kept).",
)
@json_option
def events(follow: bool, since: str | None, as_json: bool) -> None:
    """Print completion events: one per job that ended (complete, failed, cancelled, expired).

    Each line starts with the event's id: pass it to --since to resume after it (on a sharded
    queue it is a cursor over every shard). --json prints one JSON object per line.
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        client = client_on(queue, settings)
        try:
            stream = client.events(since, follow=follow)
            async for event in stream:
                if as_json:
                    click.echo(event.model_dump_json(exclude_none=True))
                else:
                    out.line(_line(event))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        return EXIT_OK

    run_with_queue(settings, body)


def _line(event: JobEvent) -> str:
    at = datetime.fromtimestamp(event.finished_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    if event.error is not None:
        code = f" {event.error.code}" if event.error.code else ""
        detail = f"{event.error.type}{code}: {event.error.message}"
    else:
        detail = " ".join(f"{k}={v}" for k, v in (event.result or {}).items() if k != "kind")
    return f"{event.id}  {at}  {event.status:<9}  {event.kind or '?'}  {event.job_id}  {detail}"
