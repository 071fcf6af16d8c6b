"""``storage-jobs status`` and ``result``: where a job is, and its typed result."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..client import JobStatus
from ._exit_codes import EXIT_NOT_READY, EXIT_OK
from ._outcome import print_outcome, wait_for
from ._output import Output, json_option
from ._redis_session import client_on, load_settings, run_with_queue

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["result", "status"]

F = TypeVar("F", bound=Callable[..., Any])


@click.command()
@click.argument("job_id")
@json_option
def status(job_id: str, as_json: bool) -> None:
    """Print a job's status.

    One of queued, deferred, in_progress, paused, complete, failed, cancelled, expired,
    not_found (exit code 0 for all).
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        state = await client_on(queue, settings).status(job_id)
        if as_json:
            out.json({"job_id": job_id, "status": state.value})
        else:
            out.line(f"{job_id}: {state.value}")
        return EXIT_OK

    run_with_queue(settings, body)


@click.command()
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

    async def body(queue: Queue) -> int:
        client = client_on(queue, settings)
        if await client.status(job_id) == JobStatus.NOT_FOUND:
            code, outcome = EXIT_NOT_READY, {"job_id": job_id, "status": "not_found"}
        else:
            code, outcome = await wait_for(client.handle(job_id), wait)
        if as_json:
            out.json(outcome)
        else:
            print_outcome(out, outcome)
        return code

    run_with_queue(settings, body)
