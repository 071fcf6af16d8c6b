"""``storage-jobs queue`` (the queue at a glance) and ``storage-jobs health`` (liveness)."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from rich.table import Table

from ..queue import (
    KIND_SAMPLE,
    QueueKeys,
    WorkerInfo,
    live_workers,
)
from ._exit_codes import EXIT_FAILED, EXIT_OK
from ._output import Output, json_option
from ._redis_session import load_settings, run_with_queue

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..queue import Queue

__all__ = ["health", "queue"]


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _workers_table(workers: list[WorkerInfo] | tuple[WorkerInfo, ...]) -> Table:
    table = Table(title="live workers", title_justify="left")
    for column in ("worker", "host", "pid", "jobs", "done", "failed", "heartbeat", "up since"):
        table.add_column(column, overflow="fold")
    for w in workers:
        jobs = "?" if w.jobs_ongoing is None else f"{w.jobs_ongoing}/{w.max_jobs or '?'}"
        started = (
            datetime.fromtimestamp(w.started_at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
            if w.started_at
            else ""
        )
        table.add_row(
            w.worker_id,
            w.host or "?",
            "?" if w.pid is None else str(w.pid),
            jobs,
            "" if w.jobs_complete is None else str(w.jobs_complete),
            "" if w.jobs_failed is None else str(w.jobs_failed),
            f"{_age(w.last_beat_age)} ago",
            started,
        )
    return table


@click.group(
    short_help="Queue depth, running and deferred jobs, kinds, workers; pause and resume.",
    invoke_without_command=True,
)
@click.option(
    "--sample",
    type=click.IntRange(min=0),
    default=KIND_SAMPLE,
    show_default=True,
    help="Read at most this many queued payloads to count jobs per kind (a random sample of "
    "larger queues).",
)
@json_option
@click.pass_context
def queue(ctx: click.Context, sample: int, as_json: bool) -> None:
    """Show the queue: depth, deferred and running jobs, kinds, dead letters, live workers.

    depth counts jobs ready to run now that no worker has taken; deferred ones wait for a time
    in the future (deferred jobs and retries backing off). A worker is live when its heartbeat
    is newer than 3 x STORAGE_JOBS_HEALTH_CHECK_INTERVAL. `queue pause` and `queue resume`
    stop and restart the taking of new jobs.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        info = await queue.info(
            health_check_interval=settings.health_check_interval, kind_sample=sample
        )
        policy = await queue.eviction_policy(declared=settings.redis_maxmemory_policy)
        if as_json:
            out.json({**info.as_dict(), "eviction_policy": policy.as_dict()})
            return EXIT_OK
        c = info.counts
        table = Table(title=f"queue {info.queue}", show_header=False, title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value", justify="right")
        table.add_row("state", "PAUSED (workers take nothing new)" if info.paused else "running")
        table.add_row("depth (ready, waiting)", str(c.depth))
        table.add_row("in progress", str(c.in_progress) + ("" if c.in_progress_exact else "+"))
        table.add_row("deferred", str(c.deferred))
        table.add_row("oldest ready job", _age(c.oldest_age) if c.depth or c.in_progress else "-")
        table.add_row("dead letters", str(info.dead_letters))
        table.add_row("live workers", str(len(info.workers)))
        table.add_row("redis maxmemory-policy", policy.policy)
        out.table(table)
        if (problem := policy.problem()) is not None:
            out.line(f"warning: {problem}")
        lanes = Table(title="lanes (taken high, normal, bulk)", title_justify="left")
        for column in ("lane", "depth", "in progress", "deferred"):
            lanes.add_column(column, justify="left" if column == "lane" else "right")
        for lane_name, lane in c.lanes.items():
            lanes.add_row(lane_name, str(lane.depth), str(lane.in_progress), str(lane.deferred))
        out.table(lanes)
        if info.shards:
            shards = Table(title="shards", title_justify="left")
            for column in ("shard", "node", "depth", "in progress", "deferred"):
                shards.add_column(
                    column, justify="left" if column in ("shard", "node") else "right"
                )
            for shard in info.shards:
                s = shard.counts
                node = shard.node or "this server"
                shards.add_row(shard.name, node, str(s.depth), str(s.in_progress), str(s.deferred))
            out.table(shards)
        if info.kinds:
            kinds = Table(title="jobs per kind", title_justify="left")
            kinds.add_column("function")
            kinds.add_column("jobs", justify="right")
            for name, count in info.kinds.items():
                kinds.add_row(name, str(count))
            out.table(kinds)
            if info.kinds_sampled:
                out.line(f"(kinds counted on a random sample of {info.kinds_sample_size} jobs)")
        if info.workers:
            out.table(_workers_table(info.workers))
        return EXIT_OK

    run_with_queue(settings, body)


@queue.command("pause")
@json_option
def pause_queue(as_json: bool) -> None:
    """Pause the queue: workers finish what they run and take nothing new.

    Durable: it holds until `queue resume`, across worker restarts. `health` stays healthy.
    """
    _set_paused(True, as_json)


@queue.command("resume")
@json_option
def resume_queue(as_json: bool) -> None:
    """Resume a paused queue: workers take jobs again at once."""
    _set_paused(False, as_json)


def _set_paused(paused: bool, as_json: bool) -> None:
    settings = load_settings()
    out = Output(as_json)

    async def body(queue: Queue) -> int:
        control = queue.control
        changed = await (control.pause_queue() if paused else control.resume_queue())
        state = "paused" if paused else "running"
        if as_json:
            out.json({"queue": settings.queue_name, "state": state, "changed": changed})
        else:
            note = "" if changed else f" (it was {state} already)"
            out.line(f"queue {settings.queue_name}: {state}{note}")
        return EXIT_OK

    run_with_queue(settings, body)


@click.command(short_help="Exit 0 if a worker heartbeat is fresh, else 1.")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="A heartbeat older than this is stale (default: 3 x STORAGE_JOBS_HEALTH_CHECK_INTERVAL).",
)
@click.option("--worker-id", help="Check this one worker (its id as `storage-jobs queue` shows).")
@click.option(
    "--local",
    is_flag=True,
    help="Check the workers of this host only (matched by host name), e.g. in a pod's "
    "liveness probe.",
)
@json_option
def health(max_age: float | None, worker_id: str | None, local: bool, as_json: bool) -> None:
    """Exit 0 when a worker of this queue has a fresh heartbeat, else 1 with the reason.

    Without options any worker counts; --worker-id or --local narrow it down.
    """
    if worker_id and local:
        raise click.UsageError("give --worker-id or --local, not both")
    settings = load_settings()
    limit = max_age if max_age is not None else 3 * settings.health_check_interval
    out = Output(as_json)
    queue_name = settings.queue_name

    async def body(queue: Queue) -> int:
        workers = await live_workers(queue.redis, queue_name, max_age=limit)
        scope = f"on queue {queue_name}"
        if worker_id:
            workers = [w for w in workers if w.worker_id == worker_id]
            scope = f"for worker {worker_id} {scope}"
            reason_missing = await _why_missing(queue.redis, queue_name, worker_id, limit)
        elif local:
            host = socket.gethostname()
            workers = [
                w
                for w in workers
                if w.host == host or (w.host is None and w.worker_id.startswith(f"{host}-"))
            ]
            scope = f"for host {host} {scope}"
            reason_missing = f"no heartbeat {scope} in the last {limit:g} s"
        else:
            reason_missing = f"no worker heartbeat {scope} in the last {limit:g} s"
        policy = await queue.eviction_policy(declared=settings.redis_maxmemory_policy)
        problem = policy.problem()
        healthy = bool(workers) and not (problem and settings.require_noeviction)
        if healthy:
            newest = min(w.last_beat_age for w in workers)
            reason = (
                f"{len(workers)} live worker{'s' if len(workers) != 1 else ''} {scope} "
                f"(newest heartbeat {_age(newest)} ago)"
            )
        elif workers:
            reason = f"{problem} (STORAGE_JOBS_REQUIRE_NOEVICTION is set)"
        else:
            reason = reason_missing
        if await queue.paused():
            reason += " (queue paused: workers take nothing new)"
        if as_json:
            out.json(
                {
                    "healthy": healthy,
                    "reason": reason,
                    "queue": queue_name,
                    "max_age": limit,
                    "workers": [w.model_dump() for w in workers],
                    "eviction_policy": policy.as_dict(),
                }
            )
        else:
            out.line(("ok: " if healthy else "unhealthy: ") + reason)
            if problem is not None:
                out.line(f"warning: {problem}")
        return EXIT_OK if healthy else EXIT_FAILED

    run_with_queue(settings, body)


async def _why_missing(redis: Redis, queue_name: str, worker_id: str, limit: float) -> str:
    score = await redis.zscore(QueueKeys(queue_name).workers, worker_id)
    if score is None:
        return f"worker {worker_id} has no heartbeat on queue {queue_name}"
    age = time.time() - float(score) / 1000
    return f"worker {worker_id}'s last heartbeat is {_age(age)} old (limit {limit:g} s)"
