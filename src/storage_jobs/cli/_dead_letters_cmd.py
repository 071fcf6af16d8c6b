"""``storage-jobs dead-letters``: list, show, replay and drop jobs that failed for good."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from ..errors import ReplayRefusedError
from ..queue import DeadLetter
from ._exit_codes import EXIT_FAILED, EXIT_NOT_READY, EXIT_OK
from ._output import Output, fields_table, json_option
from ._redis_session import client_on, load_settings, run_with_queue

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["dead_letters"]

_PAYLOAD_FIELDS = {"payload"}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(letter: DeadLetter) -> dict[str, Any]:
    return letter.model_dump(mode="json", exclude=_PAYLOAD_FIELDS)


def _targets(job_ids: tuple[str, ...], all_: bool) -> None:
    if all_ and job_ids:
        raise click.UsageError("give JOB_ID... or --all, not both")
    if not all_ and not job_ids:
        raise click.UsageError("give at least one JOB_ID, or --all")


@click.group("dead-letters", short_help="List, show, replay or drop jobs that failed for good.")
def dead_letters() -> None:
    """Jobs that failed for good, kept with their payload and error until dropped or replayed."""


@dead_letters.command("list")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Show at most this many, oldest first.",
)
@json_option
def list_(limit: int, as_json: bool) -> None:
    """List dead letters (without their payloads; see `show`)."""
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        store = queue.dead_letters
        total = await store.count()
        letters = await store.list(limit=limit)
        if as_json:
            out.json({"count": total, "dead_letters": [_summary(d) for d in letters]})
            return EXIT_OK
        if not letters:
            out.line(f"no dead letters on queue {settings.queue_name}")
            return EXIT_OK
        shown = "" if total <= len(letters) else f", showing the oldest {len(letters)}"
        table = Table(
            title=f"dead letters on queue {settings.queue_name} ({total}{shown})",
            title_justify="left",
        )
        table.add_column("job id", overflow="fold", min_width=10)
        table.add_column("function", overflow="fold")
        table.add_column("error", overflow="fold")
        table.add_column("tries", justify="right")
        table.add_column("failed at (UTC)")
        table.add_column("message", overflow="fold", min_width=10)
        for d in letters:
            table.add_row(
                d.job_id,
                d.function or "?",
                d.error_type + (f" [{d.code}]" if d.code else ""),
                str(d.attempts),
                _when(d.failed_at),
                _clip(" ".join(d.message.split()), 80),
            )
        out.table(table)
        return EXIT_OK

    run_with_queue(settings, body)


@dead_letters.command("show")
@click.argument("job_id")
@json_option
def show(job_id: str, as_json: bool) -> None:
    """Show one dead letter in full, payload included (exit 3 if there is none)."""
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        letter = await queue.dead_letters.get(job_id)
        if letter is None:
            if as_json:
                out.json({"job_id": job_id, "found": False})
            else:
                out.line(f"no dead letter for job {job_id} on queue {settings.queue_name}")
            return EXIT_NOT_READY
        if as_json:
            out.json(letter.model_dump(mode="json"))
            return EXIT_OK
        data = _summary(letter)
        data["failed_at"] = _when(letter.failed_at)
        out.table(fields_table(f"dead letter {job_id}", data))
        out.line("payload:")
        out.line(_pretty_payload(letter))
        return EXIT_OK

    run_with_queue(settings, body)


def _pretty_payload(letter: DeadLetter) -> str:
    if letter.payload is None:
        return "(none kept)"
    if letter.payload_encoding != "utf-8":
        return f"({letter.payload_encoding}) {letter.payload}"
    try:
        return json.dumps(json.loads(letter.payload), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return letter.payload


@dead_letters.command("replay")
@click.argument("job_ids", nargs=-1, metavar="JOB_ID...")
@click.option("--all", "all_", is_flag=True, help="Replay every dead letter of the queue.")
@json_option
def replay(job_ids: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Enqueue dead-lettered jobs again, under the same ids, with a fresh attempt count.

    The payload is validated again first; one that is not a valid job (a pickle, garbage, a
    payload breaking the configured limits) is refused and stays in the dead letters.
    Exit code 1 when any job was refused (the others are still replayed).
    """
    _targets(job_ids, all_)
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        store = queue.dead_letters
        client = client_on(queue, settings)
        ids = await store.ids() if all_ else list(dict.fromkeys(job_ids))
        replayed: list[str] = []
        refused: list[dict[str, str]] = []
        for job_id in ids:
            try:
                handle = await client.replay(job_id)
            except ReplayRefusedError as exc:
                refused.append({"job_id": job_id, "reason": exc.reason, "detail": exc.detail})
                if not as_json:
                    out.line(f"refused {job_id}: {exc.reason}: {exc.detail}")
                continue
            replayed.append(handle.job_id)
            if not as_json:
                out.line(f"replayed {handle.job_id}")
        if as_json:
            out.json({"replayed": replayed, "refused": refused})
        elif not ids:
            out.line(f"no dead letters on queue {settings.queue_name}")
        return EXIT_FAILED if refused else EXIT_OK

    run_with_queue(settings, body)


@dead_letters.command("drop")
@click.argument("job_ids", nargs=-1, metavar="JOB_ID...")
@click.option("--all", "all_", is_flag=True, help="Drop every dead letter of the queue.")
@json_option
def drop(job_ids: tuple[str, ...], all_: bool, as_json: bool) -> None:
    """Forget dead letters for good (exit 3 if any JOB_ID had none)."""
    _targets(job_ids, all_)
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        store = queue.dead_letters
        ids = await store.ids() if all_ else list(dict.fromkeys(job_ids))
        dropped: list[str] = []
        missing: list[str] = []
        for job_id in ids:
            (dropped if await store.drop(job_id) else missing).append(job_id)
        if as_json:
            out.json({"dropped": dropped, "not_found": missing})
        else:
            for job_id in dropped:
                out.line(f"dropped {job_id}")
            for job_id in missing:
                out.line(f"no dead letter for {job_id}")
            if not ids:
                out.line(f"no dead letters on queue {settings.queue_name}")
        return EXIT_NOT_READY if missing else EXIT_OK

    run_with_queue(settings, body)
