"""The crash-safe state a job keeps, as the handlers see it (the queue layer stores it in Redis).

Handlers know what they record and when; they do not know where. Each protocol here is
implemented once, in ``storage_jobs.queue``, under keys derived from the job's id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from ._prefix_progress import MigrationProgress

__all__ = ["DeleteState", "JobState", "ProgressStore"]


class ProgressStore(Protocol):
    """One prefix job's progress: counters, resume cursor, per-key done bits, report lines."""

    @property
    def migration_id(self) -> str:
        """The prefix job's id."""

    async def start(self, kind: str, dry_run: bool) -> None:
        """Marks the job started (a resumed job keeps its first start time)."""

    async def get(self, field: str) -> str | None:
        """One raw field."""

    async def set_once(self, field: str, value: str) -> str:
        """Sets a field unless set, and returns its (first) value."""

    async def page_listed(self, page: int, count: int, last_key: str) -> None:
        """Records a listed page whose batch job is enqueued: the resume point moves past it."""

    async def listing_finished(self) -> None:
        """Records that every page is listed."""

    async def set_status(self, status: str) -> None:
        """Sets the status readers see (``paused`` while paused, ``running`` again after)."""

    async def record_key(
        self,
        batch: int,
        index: int,
        counter: str,
        size: int,
        line: str,
        also: str = "",
        threshold: tuple[float, int] | None = None,
    ) -> bool:
        """Records one key's outcome once; False if it was already recorded.

        ``also`` names a second counter the key counts in (``verified``, ``mismatch``).
        ``threshold`` is ``(max failure ratio, min tasks)``: crossing it, in the same atomic
        step, sets the job's stop reason to ``failure_threshold``.
        """

    async def set_waiting(self, batch: int, count: int) -> None:
        """Records how many keys of a batch wait on restores now (0: none, the field goes).

        Each run of the batch overwrites its own count, so a re-run after a crash never counts
        a key twice; readers see the sum as ``restoring``.
        """

    async def stop_reason(self) -> str | None:
        """Why the job is stopping (``failure_threshold``), or None while it runs on.

        The one place batches and the coordinator ask; a job cancel can set it too.
        """

    async def recorded(self, batch: int, count: int) -> set[int]:
        """Indexes of a batch whose outcome is already recorded."""

    async def finish_batch(
        self,
        batch: int,
        *,
        done: int = 0,
        failed: int = 0,
        skipped: int = 0,
        rejected: int = 0,
        lines: Sequence[str] = (),
    ) -> bool:
        """Marks a batch finished (once), adding counts and report lines given here."""

    async def record_step(
        self, step: str, *, counter: str, count: int, lines: Sequence[str] = ()
    ) -> bool:
        """Records one step of the coordinator's final phase once (by its name).

        A sync's delete round or a verification's chunk of extra keys: a coordinator re-run
        after a crash repeats the walk, and a step already recorded adds nothing.
        """

    async def finished_batches(self) -> set[int]:
        """Numbers of the batches finished so far."""

    async def read(self) -> MigrationProgress:
        """The current progress."""

    def iter_records(self, chunk: int = 5000) -> AsyncIterator[list[bytes]]:
        """Yields the report lines in order, a chunk at a time."""

    async def finish(
        self, report_bucket: str | None, report_key: str | None, *, status: str = "done"
    ) -> None:
        """Marks the job finished (``done``, ``cancelled``, ...), keeping its state a while."""


class DeleteState(Protocol):
    """The crash-safe progress of one bulk delete."""

    async def done_batches(self, count: int) -> set[int]:
        """First-round batches already answered (never sent again)."""

    async def round(self) -> int:
        """The retry round reached (0 before the first answer)."""

    async def set_round(self, round_: int) -> None:
        """Records the retry round about to start."""

    async def pending(self) -> list[str]:
        """Keys that failed with a retryable code and are still to retry, sorted."""

    async def record(
        self,
        *,
        retry: Mapping[str, Mapping[str, str]],
        final: Mapping[str, Mapping[str, str]],
        round_: int,
        batch_index: int | None = None,
        retried: Sequence[str] = (),
    ) -> None:
        """Stores one DeleteObjects answer atomically.

        Args:
            retry: Key -> error of the keys to retry.
            final: Key -> error of the keys that failed for good.
            round_: The round this answer belongs to.
            batch_index: The first-round batch answered, if it was one.
            retried: The keys this (retry round) request sent.
        """

    async def give_up(self, pending: Sequence[str]) -> None:
        """Moves keys whose retries are exhausted to the final failures."""

    async def failures(self) -> list[str]:
        """The final failures, as ``{"key", "code", "message"}`` JSON documents."""

    async def expire_soon(self) -> None:
        """Keeps the state a short while after the job's result is about to be stored."""


class JobState(Protocol):
    """Where a job's crash-safe state lives."""

    def progress(self, migration_id: str) -> ProgressStore:
        """The progress store of a prefix job."""

    def delete(self, job_id: str, scope: str) -> DeleteState:
        """The state of one bulk delete of a job (``scope`` tells several apart)."""
