"""``storage-jobs cancel``, ``pause`` and ``resume``: stop a job, or hold a prefix job a while."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import JobRejectedError
from ._exit_codes import EXIT_NOT_READY, EXIT_OK
from ._output import Output, json_option
from ._redis_session import client_on, load_settings, run_with_queue

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["cancel", "pause", "resume"]


@click.command()
@click.argument("job_ids", nargs=-1, required=True, metavar="JOB_ID...")
@json_option
def cancel(job_ids: tuple[str, ...], as_json: bool) -> None:
    """Cancel jobs; durable, it holds even while no worker runs.

    A queued or deferred job never runs; a running one stops at its next safe point and records
    what it did; a migration or prefix delete stops with every batch and writes its report.
    Exit codes: 0 when every job was cancelled; 3 when one had already finished or is unknown.
    """
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        control = client_on(queue, settings).control
        answers = await control.cancel(list(job_ids))
        if as_json:
            out.json([{"job_id": j, "cancelled": a} for j, a in zip(job_ids, answers, strict=True)])
        for job_id, answer in zip(job_ids, answers, strict=True):
            if not as_json:
                out.line(
                    f"{job_id}: "
                    + ("cancelled" if answer else "not cancelled: finished or unknown")
                )
        return EXIT_OK if all(answers) else EXIT_NOT_READY

    run_with_queue(settings, body)


@click.command()
@click.argument("job_id")
@json_option
def pause(job_id: str, as_json: bool) -> None:
    """Pause a migration, verification or prefix delete: its batches wait; others flow.

    Its listing stops; running batches stop at their next object. Exit codes: 0 paused; 2 not
    a prefix job; 3 finished, unknown, or paused already.
    """
    _pause_or_resume(job_id, as_json, pause=True)


@click.command()
@click.argument("job_id")
@json_option
def resume(job_id: str, as_json: bool) -> None:
    """Resume a paused prefix job from where it was (nothing runs twice).

    Exit codes: 0 resumed; 3 it was not paused.
    """
    _pause_or_resume(job_id, as_json, pause=False)


def _pause_or_resume(job_id: str, as_json: bool, *, pause: bool) -> None:
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        client = client_on(queue, settings)
        try:
            changed = await (client.pause(job_id) if pause else client.resume(job_id))
        except JobRejectedError as exc:
            raise click.UsageError(str(exc)) from None
        state = "paused" if pause else "resumed"
        if as_json:
            out.json({"job_id": job_id, "state": state, "changed": changed})
        elif changed:
            out.line(f"{job_id}: {state}")
        else:
            why = "finished, unknown or paused already" if pause else "not paused"
            out.line(f"{job_id}: not {state} ({why})")
        return EXIT_OK if changed else EXIT_NOT_READY

    run_with_queue(settings, body)
