"""The dashboard's read side: every answer built from a bounded number of Redis commands.

Nothing here scans the keyspace: counts come from sorted-set cardinalities, lists from one
range of an index, kinds from the first bytes of each listed job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..jobs import spec_for_name
from ..queue import (
    FINISHED_KEPT,
    LEASES_CHECKED,
    DeadLetter,
    ListedState,
    QueueDepth,
    peek_functions,
    read_heartbeats,
)
from ._answers import (
    DeadLetterPage,
    DeadLetterRow,
    FinishedCounts,
    JobPage,
    JobRow,
    Overview,
    PrefixJobPage,
    PrefixJobProgress,
    QueueCounts,
    QueueOverview,
    Unreadable,
    WorkerRow,
    WorkersPage,
)
from ._letters import PAGE_BYTES, read_letters
from ._progress_rows import control_flags, progress_row
from ._unreadable import UNREADABLE, cause_of, unreadable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..queue import Queue
    from ..settings import Settings

__all__ = [
    "FILTER_WINDOW",
    "FINISHED_STATES",
    "IN_PROGRESS_CHECKED",
    "WORKER_HORIZON",
    "Reader",
    "kind_of",
    "letter_row",
]

IN_PROGRESS_CHECKED = LEASES_CHECKED
"""Jobs checked for a lease on each side of now of each lane, on the overview and the lists: the
oldest ready ones and the soonest later ones (a running job's score is its lease's deadline)."""

WORKER_HORIZON = 600.0
"""Seconds a silent worker stays on the workers page, marked stale."""

FILTER_WINDOW = 2000
"""Jobs (or dead letters) looked at for one filtered page, at most."""

FINISHED_STATES = ("complete", "failed", "cancelled")
"""The listed states whose jobs have a result (their function is read from it)."""

_CHUNK = 500


def kind_of(function: str | None) -> str | None:
    """The job kind a queue function name stands for."""
    spec = spec_for_name(function) if function else None
    return spec.kind if spec is not None else None


def letter_row(letter: DeadLetter) -> DeadLetterRow:
    return DeadLetterRow(
        job_id=letter.job_id,
        kind=kind_of(letter.function),
        function=letter.function,
        error_type=letter.error_type,
        code=letter.code,
        message=letter.message[:300],
        attempts=letter.attempts,
        failed_at=letter.failed_at,
    )


@dataclass(frozen=True)
class Reader:
    """Reads one queue for the dashboard."""

    queue: Queue
    settings: Settings

    @property
    def redis(self) -> Redis:
        """The queue's connection."""
        return self.queue.redis

    @property
    def queue_name(self) -> str:
        """The queue name."""
        return self.settings.queue_name

    @property
    def stale_after(self) -> float:
        """Seconds after which a worker counts as stale (three missed heartbeats)."""
        return 3 * self.settings.health_check_interval

    async def overview(self, *, actions_enabled: bool) -> Overview:
        """Counts, live workers and the last hour's outcomes."""
        depth = await self.queue.depth(in_progress_limit=IN_PROGRESS_CHECKED)
        dead = await self.queue.dead_letters.count()
        paused = await self.queue.paused()
        async with self.redis.pipeline(transaction=False) as pipe:  # every shard's indexes
            for shard in self.queue.shards:
                for state in FINISHED_STATES:
                    pipe.zcard(shard.keys.finished(state))
            per_shard = await pipe.execute()
        finished = [sum(per_shard[i :: len(FINISHED_STATES)]) for i in range(len(FINISHED_STATES))]
        workers = await self.workers()
        counts = _counts(depth)
        return Overview(
            at=time.time(),
            queues=[
                QueueOverview(
                    queue=self.queue_name,
                    paused=bool(paused),
                    counts=counts,
                    lanes={name: _counts(lane) for name, lane in depth.lanes.items()},
                    finished=FinishedCounts(
                        **dict(zip(FINISHED_STATES, map(int, finished), strict=True)),
                        kept=FINISHED_KEPT,
                    ),
                    dead_letters=dead,
                )
            ],
            workers=[w for w in workers.workers if not w.stale],
            history=await self.queue.listings.history(),
            actions_enabled=actions_enabled,
        )

    async def workers(self) -> WorkersPage:
        """Workers heard from in the last ``WORKER_HORIZON`` seconds, stale ones marked."""
        rows = []
        try:
            beats = await read_heartbeats(self.redis, self.queue.home, max_age=WORKER_HORIZON)
        except UNREADABLE as exc:  # one hostile description spoils the batch read
            return WorkersPage(
                stale_after=self.stale_after, workers=[], unreadable=[unreadable("workers", exc)]
            )
        for beat, age in beats:
            rows.append(
                WorkerRow(
                    worker_id=beat.worker_id,
                    host=beat.host,
                    pid=beat.pid,
                    version=beat.version,
                    heartbeat_age=age,
                    running=beat.jobs_ongoing,
                    max_jobs=beat.max_jobs,
                    jobs_complete=beat.jobs_complete,
                    jobs_failed=beat.jobs_failed,
                    started_at=beat.started_at,
                    stale=age > self.stale_after,
                )
            )
        return WorkersPage(stale_after=self.stale_after, workers=rows)

    async def jobs(self, status: ListedState, kind: str | None, offset: int, limit: int) -> JobPage:
        """One page of jobs in a state; with a kind, filtered over a bounded window.

        A job whose data cannot be read is listed apart, with why (it has no kind to filter).
        """
        if kind is None:
            listed, total = await self.queue.listings.ids(status, offset=offset, limit=limit)
            rows, bad = await self._job_rows(status, listed)
            more = offset + len(listed) < total
            return JobPage(
                status=status,
                kind=None,
                offset=offset,
                limit=limit,
                total=total,
                next_offset=offset + len(listed) if more and listed else None,
                rows=rows,
                unreadable=bad,
            )
        found: list[JobRow] = []
        unread: list[Unreadable] = []
        position, looked, total = offset, 0, 0
        while len(found) < limit and looked < FILTER_WINDOW:
            listed, total = await self.queue.listings.ids(
                status, offset=position, limit=min(_CHUNK, 2 * limit)
            )
            if not listed:
                break
            rows, bad = await self._job_rows(status, listed)
            failed = {u.id: u for u in bad}
            by_id = {row.job_id: row for row in rows}
            for job_id, _ in listed:
                position += 1
                if job_id in failed:
                    unread.append(failed[job_id])
                elif (row := by_id.get(job_id)) is not None and row.kind == kind:
                    found.append(row)
                    if len(found) == limit:
                        break
            looked += len(listed)
        return JobPage(
            status=status,
            kind=kind,
            offset=offset,
            limit=limit,
            total=total,
            next_offset=position if position < total else None,
            rows=found,
            kind_window=position - offset,
            unreadable=unread,
        )

    async def _job_rows(
        self, status: ListedState, listed: list[tuple[str, float]]
    ) -> tuple[list[JobRow], list[Unreadable]]:
        ids = [job_id for job_id, _ in listed]
        bad: dict[str, str] = {}
        if status == "dead":
            reads = await read_letters(self.queue, ids, budget=None)
            letters = {r.job_id: r.letter for r in reads if r.letter is not None}
            bad = {r.job_id: r.cause for r in reads if r.cause is not None}
            functions = [letters[i].function if i in letters else None for i in ids]
        else:
            functions = await self._functions(ids, finished=status in FINISHED_STATES, bad=bad)
        rows = [
            JobRow(job_id=job_id, status=status, kind=kind_of(function), at=at)
            for (job_id, at), function in zip(listed, functions, strict=True)
            if job_id not in bad
        ]
        return rows, [Unreadable(id=job_id, cause=bad[job_id]) for job_id in ids if job_id in bad]

    async def _functions(
        self, ids: list[str], *, finished: bool, bad: dict[str, str]
    ) -> list[str | None]:
        """Each job's function (its first bytes only); one by one when a key is unreadable."""
        try:
            return await peek_functions(self.redis, ids, finished=finished)
        except UNREADABLE:
            pass
        functions: list[str | None] = []
        for job_id in ids:
            try:
                (function,) = await peek_functions(self.redis, [job_id], finished=finished)
            except UNREADABLE as exc:
                bad[job_id], function = cause_of(exc), None
            functions.append(function)
        return functions

    async def dead_letters(
        self, kind: str | None, error_type: str | None, offset: int, limit: int
    ) -> DeadLetterPage:
        """One page of dead letters, newest first; filters apply over a bounded window.

        A page reads at most ``PAGE_BYTES`` of letters (then ``next_offset`` goes on from
        there); a letter that cannot be read is listed apart, with why.
        """
        filtered = kind is not None or error_type is not None
        found: list[DeadLetterRow] = []
        unread: list[Unreadable] = []
        position, total, budget = offset, 0, PAGE_BYTES
        while len(found) < limit and position - offset < (FILTER_WINDOW if filtered else limit):
            chunk = _CHUNK if filtered else limit - len(found)
            listed, total = await self.queue.listings.ids("dead", offset=position, limit=chunk)
            if not listed or budget <= 0:
                break
            reads = await read_letters(self.queue, [job_id for job_id, _ in listed], budget=budget)
            for read in reads:
                position += 1
                budget -= read.size
                if read.cause is not None:
                    unread.append(Unreadable(id=read.job_id, cause=read.cause))
                elif read.letter is not None and matches(read.letter, kind, error_type):
                    found.append(letter_row(read.letter))
                    if len(found) == limit:
                        break
            if len(reads) < len(listed):
                break  # the byte budget is spent: the next page goes on from here
        return DeadLetterPage(
            kind=kind,
            error_type=error_type,
            offset=offset,
            limit=limit,
            total=total,
            next_offset=position if position < total else None,
            rows=found,
            window=position - offset if filtered else None,
            unreadable=unread,
        )

    async def prefix_jobs(self, offset: int, limit: int) -> PrefixJobPage:
        """One page of migrations and prefix deletes with their progress, newest first."""
        ids, total = await self.queue.listings.prefix_job_ids(offset=offset, limit=limit)
        flags = await control_flags(self.redis, ids)
        rows: list[PrefixJobProgress] = []
        unread: list[Unreadable] = []
        for job_id, f in zip(ids, flags, strict=True):
            try:
                rows.append(progress_row(await self.queue.progress(job_id).read(), flags=f))
            except UNREADABLE as exc:
                unread.append(unreadable(job_id, exc))
        return PrefixJobPage(offset=offset, limit=limit, total=total, rows=rows, unreadable=unread)

    async def prefix_job(self, job_id: str) -> PrefixJobProgress:
        """One prefix job's progress."""
        job_id = self.queue.job_id(job_id)
        (flags,) = await control_flags(self.redis, [job_id])
        return progress_row(await self.queue.progress(job_id).read(), flags=flags)


def _counts(depth: QueueDepth) -> QueueCounts:
    return QueueCounts(
        ready=depth.depth,
        in_progress=depth.in_progress,
        deferred=depth.deferred,
        oldest_age=depth.oldest_age,
        in_progress_exact=depth.in_progress_exact,
    )


def matches(letter: DeadLetter, kind: str | None, error_type: str | None) -> bool:
    """Whether a dead letter passes a list's filter."""
    if kind is not None and kind_of(letter.function) != kind:
        return False
    return error_type is None or letter.error_type == error_type
