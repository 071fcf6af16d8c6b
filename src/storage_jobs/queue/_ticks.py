"""Firing due schedules: each tick enqueued once, however many workers look.

A worker calls ``fire_due`` about once a second (``worker._ticks``). One command reads the
schedules due soonest; when none is due, that is all it costs. For each due one:

1. Its record is read. A tick left pending by a worker that died between deciding it and
   enqueueing it is enqueued first, under its own id.
2. The tick to run is the latest one at or before now: ticks missed while no worker ran are
   caught up by that one run, not a burst (they are counted as ``missed``).
3. With ``overlap="skip"`` a tick whose previous run is still queued or running is skipped.
4. ``schedule_tick.lua`` moves the schedule on only if it still reads as it was read: of the
   workers that read it, one decides the tick, the others find it moved.
5. The winner enqueues the tick under ``tick_job_id(queue, name, tick)``: should another worker
   enqueue it too (recovering a pending tick that was not lost after all), the queue refuses the
   taken id, on whichever shard the id lands. Then ``schedule_enqueued.lua`` clears the pending
   mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ._cadence import tick_job_id
from ._enqueue import NewJob
from ._status import JobStatus

if TYPE_CHECKING:
    from ._queue import Queue
    from ._schedule_records import ScheduleRecord

__all__ = ["DUE_READ", "PENDING_RETRY_MS", "Tick", "TickRound", "fire_due"]

DUE_READ = 16
"""Schedules read per check; more due ones are read at once by the next."""

PENDING_RETRY_MS = 10_000
"""After this long a tick decided but not marked enqueued is enqueued by another worker."""

_STILL_RUNNING = frozenset(
    {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.IN_PROGRESS, JobStatus.PAUSED}
)


@dataclass(frozen=True)
class Tick:
    """What one worker did with one tick.

    Attributes:
        name: The schedule.
        outcome: ``run`` (enqueued), ``skipped`` (the last run still queued or running),
            ``recovered`` (a pending tick enqueued for a worker that died) or ``unreadable``
            (the stored job no longer reads as one: skipped) or ``failed`` (its stored cadence
            does not read: it stays due, the other schedules fire).
        tick_ms: The tick.
        job_id: Its job id (for ``run`` and ``recovered``).
        missed: Earlier ticks a catch-up stands for.
        enqueued: Whether the queue took the job (False: its id was taken already).
        error: Why it failed.
    """

    name: str
    outcome: Literal["run", "skipped", "recovered", "unreadable", "failed"]
    tick_ms: int
    job_id: str | None = None
    missed: int = 0
    enqueued: bool = False
    error: str | None = None


@dataclass(frozen=True)
class TickRound:
    """One check's ticks, and when to look again.

    Attributes:
        ticks: What was done.
        soonest_ms: The next tick seen that is not due yet (None: none seen).
        more: Every schedule read was due: more may be; look again at once.
    """

    ticks: list[Tick] = field(default_factory=list)
    soonest_ms: int | None = None
    more: bool = False


async def fire_due(queue: Queue, now_ms: int) -> TickRound:
    """Fires the queue's due schedules (see the module docstring)."""
    found = await queue.schedules.soonest(DUE_READ)
    ticks: list[Tick] = []
    for name, due_ms in found:
        if due_ms > now_ms:
            return TickRound(ticks, due_ms)
        try:
            ticks.extend(await _fire(queue, name, now_ms))
        except (ValueError, TypeError, KeyError) as exc:
            # A stored cadence no longer readable (edited by hand, or a croniter that reads
            # less): that schedule waits, the others still fire.
            error = f"{type(exc).__name__}: {exc}"[:200]
            ticks.append(Tick(name, "failed", due_ms, error=error))
    return TickRound(ticks, None, more=len(found) == DUE_READ)


async def _fire(queue: Queue, name: str, now_ms: int) -> list[Tick]:
    store = queue.schedules
    record = await store.get(name)
    if record is None:
        return []
    done: list[Tick] = []
    pending = record.pending
    if pending and (record.next_ms <= now_ms or record.retry_at <= now_ms):
        enqueued = await _enqueue(queue, record, pending)
        last_ms = round(record.last_tick.timestamp() * 1000) if record.last_tick else 0
        done.append(Tick(name, "recovered", last_ms, pending, enqueued=enqueued))
    if record.paused or not 0 < record.next_ms <= now_ms:
        return done
    tick, missed = record.cadence.latest_due(record.next_ms, now_ms)
    job_id = queue.job_id(tick_job_id(queue.name, name, tick))
    run = record.job is not None and not await _overlaps(queue, record)
    retry_at = now_ms + PENDING_RETRY_MS
    if not await store.decide(
        record, run=run, tick=tick, missed=missed, job_id=job_id, now_ms=now_ms, retry_at=retry_at
    ):
        return done  # another worker decided it
    if not run:
        outcome: Literal["skipped", "unreadable"] = "skipped" if record.job else "unreadable"
        return [*done, Tick(name, outcome, tick, missed=missed)]
    enqueued = await _enqueue(queue, record, job_id)
    return [*done, Tick(name, "run", tick, job_id, missed, enqueued)]


async def _overlaps(queue: Queue, record: ScheduleRecord) -> bool:
    """With ``overlap="skip"``: whether the previous run is still queued or running."""
    if record.overlap != "skip" or record.last_job_id is None:
        return False
    return await queue.status(record.last_job_id) in _STILL_RUNNING


async def _enqueue(queue: Queue, record: ScheduleRecord, job_id: str) -> bool:
    """Enqueues a tick under its id, then clears its pending mark; whether the queue took it."""
    enqueued = False
    if record.job is not None:
        new = NewJob(record.job, job_id, priority=record.priority)
        ((_, enqueued),) = await queue.enqueue_many([new])
    await queue.schedules.enqueued(record.name, job_id)
    return enqueued
