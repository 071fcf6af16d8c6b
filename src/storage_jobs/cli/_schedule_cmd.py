"""``storage-jobs schedule add|list|remove|pause|resume``: the queue's schedules.

``add`` takes its job as ``storage-jobs enqueue`` does (``... add NAME --every 3600 copy SRC_BUCKET
SRC_KEY DST_KEY``): the enqueue commands build and check it, then hand it here (``JOB_SINK``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import click
from rich.table import Table

from ..client import StorageJobsClient
from ..errors import JobRejectedError
from ..queue import Overlap, Priority, ScheduleDefinition, ScheduleRecord, check_schedule_name
from ._enqueue_cmd import JOB_SINK, enqueue
from ._exit_codes import EXIT_NOT_READY, EXIT_OK
from ._output import Output, json_option
from ._redis_session import client_on, load_settings, run_with_queue

if TYPE_CHECKING:
    from ..jobs import JobModel
    from ..queue import Queue

__all__ = ["schedule", "schedule_data"]


@click.group(short_help="Add, list, pause, resume and remove schedules.")
def schedule() -> None:
    """Jobs the workers enqueue on a schedule: every N seconds or on a cron expression.

    Each tick is enqueued once however many workers run; ticks missed while no worker ran are
    caught up by one run; with --overlap skip (the default) a tick whose previous run is still
    queued or running is skipped and counted.
    """


@schedule.command(
    "add",
    # The job's own arguments and options pass through untouched to the enqueue commands.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("name")
@click.option("--every", type=float, metavar="SECONDS", help="Tick every SECONDS (at least 1).")
@click.option("--cron", metavar="EXPR", help="Tick on a cron expression, e.g. '0 3 * * *'.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="The IANA time zone --cron is read in (daylight saving time as croniter handles it).",
)
@click.option(
    "--overlap",
    type=click.Choice(["skip", "queue"]),
    default="skip",
    show_default=True,
    help="skip: a tick whose previous run is still queued or running is skipped (and counted); "
    "queue: it is enqueued anyway.",
)
@json_option
@click.argument("job", nargs=-1, type=click.UNPROCESSED, required=True, metavar="JOB...")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    every: float | None,
    cron: str | None,
    timezone: str,
    overlap: str,
    as_json: bool,
    job: tuple[str, ...],
) -> None:
    """Add schedule NAME (or change it) running JOB, given as to 'storage-jobs enqueue'.

    \b
    storage-jobs schedule add nightly --cron '0 3 * * *' --timezone Europe/Paris
        copy photos originals/a.jpg backup/a.jpg
    storage-jobs schedule add cleanup --every 3600 delete tmp-bucket a b c

    Adding the same schedule again changes nothing; a changed one starts from now.
    """  # noqa: D301 (click's \b is the backspace character: a raw string shows it as text)
    got: dict[str, Any] = {}

    def take(job: JobModel, *, job_id: str | None, wait: float | None, priority: Priority) -> None:
        if job_id is not None or wait is not None:
            raise click.UsageError("--job-id and --wait do not apply to a schedule's job")
        got.update(job=job, priority=priority)

    with enqueue.make_context(f"{ctx.command_path} {name}", list(job)) as job_ctx:
        job_ctx.meta[JOB_SINK] = take  # shared with the job command's own context
        enqueue.invoke(job_ctx)
    settings = load_settings()
    try:
        definition = ScheduleDefinition.build(
            name,
            got["job"],
            every=every,
            cron=cron,
            timezone=timezone,
            priority=got["priority"],
            overlap=cast("Overlap", overlap),
            limits=settings.job_limits(),
        )
    except (ValueError, JobRejectedError) as exc:
        raise click.UsageError(str(exc)) from None
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        added = await queue.schedules.add(definition, now_ms=int(time.time() * 1000))
        record = await queue.schedules.get(name)
        assert record is not None
        if as_json:
            out.json({"added": added, **schedule_data(record)})
        else:
            out.line(f"{name}: {added}; {record.spec}, next tick {_when(record.next_tick)}")
        return EXIT_OK

    run_with_queue(settings, body)


@schedule.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List the queue's schedules: spec, next and last tick, runs, skipped, missed."""
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        records = await client_on(queue, settings).schedules()
        if as_json:
            out.json([schedule_data(r) for r in records])
            return EXIT_OK
        if not records:
            out.line("no schedules")
            return EXIT_OK
        table = Table(title=f"Schedules of {settings.queue_name}", title_justify="left")
        for column in ("name", "job", "spec", "next tick", "last tick", "state", "runs"):
            table.add_column(column)
        table.add_column("skipped")
        table.add_column("missed")
        for r in records:
            table.add_row(
                r.name,
                r.kind,
                r.spec,
                "" if r.paused else _when(r.next_tick),
                _when(r.last_tick),
                "paused" if r.paused else "active",
                str(r.runs),
                str(r.skipped),
                str(r.missed),
            )
        out.table(table)
        return EXIT_OK

    run_with_queue(settings, body)


def _change(verb: str, name: str, as_json: bool) -> None:
    """Removes, pauses or resumes one schedule; exit 3 if there was nothing to do."""
    try:
        check_schedule_name(name)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        client: StorageJobsClient = client_on(queue, settings)
        run = {
            "remove": client.unschedule,
            "pause": client.pause_schedule,
            "resume": client.resume_schedule,
        }[verb]
        changed = await run(name)
        if as_json:
            out.json({"name": name, "action": verb, "changed": changed})
        elif changed:
            out.line(f"{name}: {verb}d" if verb != "remove" else f"{name}: removed")
        else:
            why = {"remove": "no such schedule", "pause": "no such schedule, or paused already"}
            out.error(f"{name}: {why.get(verb, 'no such schedule, or not paused')}")
        return EXIT_OK if changed else EXIT_NOT_READY

    run_with_queue(settings, body)


@schedule.command()
@click.argument("name")
@json_option
def remove(name: str, as_json: bool) -> None:
    """Remove schedule NAME (exit 3 if there is none)."""
    _change("remove", name, as_json)


@schedule.command()
@click.argument("name")
@json_option
def pause(name: str, as_json: bool) -> None:
    """Pause schedule NAME: no tick until resumed (exit 3 if none or paused already)."""
    _change("pause", name, as_json)


@schedule.command()
@click.argument("name")
@json_option
def resume(name: str, as_json: bool) -> None:
    """Resume schedule NAME at its next tick from now; the paused ones are not caught up."""
    _change("resume", name, as_json)


def schedule_data(record: ScheduleRecord) -> dict[str, Any]:
    """A schedule as JSON-ready data."""
    return {
        "name": record.name,
        "kind": record.kind,
        "spec": record.spec,
        "next_tick": _iso(record.next_tick),
        "last_tick": _iso(record.last_tick),
        "paused": record.paused,
        "runs": record.runs,
        "skipped": record.skipped,
        "missed": record.missed,
        "overlap": record.overlap,
        "priority": record.priority,
        "last_job_id": record.last_job_id,
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""
