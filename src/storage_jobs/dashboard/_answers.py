"""The JSON API's answers: one pydantic model per answer, also what the pages render."""

from __future__ import annotations

from typing import Any

from ..queue import MinuteCounts
from ._answer_base import Answer, Unreadable
from ._prefix_answers import PrefixJobPage, PrefixJobProgress

__all__ = [
    "ActionResult",
    "DeadLetterDetail",
    "DeadLetterPage",
    "DeadLetterRow",
    "FailedKey",
    "FinishedCounts",
    "JobDetail",
    "JobPage",
    "JobRow",
    "Overview",
    "PrefixJobPage",
    "PrefixJobProgress",
    "QueueCounts",
    "QueueOverview",
    "Unreadable",
    "WorkerRow",
    "WorkersPage",
]


class QueueCounts(Answer):
    """A queue's (or, with lanes, one lane's) counts.

    Attributes:
        ready: Jobs due now that no worker has taken.
        in_progress: Jobs a worker holds a lease on.
        deferred: Jobs due later (deferred, or retries backing off), running ones not included.
        oldest_age: Seconds the oldest ready job has waited.
        in_progress_exact: False when only the oldest ready or the soonest later jobs were
            checked for a lease.
    """

    ready: int
    in_progress: int
    deferred: int
    oldest_age: float
    in_progress_exact: bool = True


class FinishedCounts(Answer):
    """A queue's recently finished jobs per status: the sizes of the capped indexes.

    Attributes:
        complete: Jobs that succeeded.
        failed: Jobs that failed for good.
        cancelled: Jobs cancelled (queued ones that never ran, running ones that stopped).
        kept: Ids each index keeps at most (older ones fall off, so a count stops there).
    """

    complete: int
    failed: int
    cancelled: int
    kept: int


class QueueOverview(Answer):
    """One queue on the overview.

    Attributes:
        paused: Whether the queue is paused (workers finish what they run, take nothing new).
        counts: The whole queue's waiting and running jobs: the first row of its table (a
            per-lane breakdown adds one ``QueueCounts`` row per lane after it).
        finished: Recently finished jobs per status.
        dead_letters: Dead letters kept.
    """

    queue: str
    paused: bool
    counts: QueueCounts
    finished: FinishedCounts
    lanes: dict[str, QueueCounts] = {}
    """The same counts per lane (high, normal, bulk), one row each after ``counts``."""
    dead_letters: int


class WorkerRow(Answer):
    """One worker with a heartbeat in the last ``WORKER_HORIZON`` seconds."""

    worker_id: str
    host: str | None
    pid: int | None
    version: str | None
    heartbeat_age: float
    running: int | None
    max_jobs: int | None
    jobs_complete: int | None
    jobs_failed: int | None
    started_at: float | None
    stale: bool


class Overview(Answer):
    """The overview page: queues, live workers, the last hour's outcomes."""

    at: float
    queues: list[QueueOverview]
    workers: list[WorkerRow]
    history: list[MinuteCounts]
    actions_enabled: bool


class JobRow(Answer):
    """One job in a list."""

    job_id: str
    status: str
    kind: str | None
    at: float | None  # run-at for queued/deferred, finish time for finished, failure for dead


class JobPage(Answer):
    """One page of jobs in one state.

    Attributes:
        total: Jobs in that state (the index's size; finished jobs: the recent ones kept).
        next_offset: Where the next page starts, or None at the end.
        kind_window: With a kind filter, how many jobs of the state were looked at for this
            page (a bounded window, never a scan of the whole state).
    """

    status: str
    kind: str | None
    offset: int
    limit: int
    total: int
    next_offset: int | None
    rows: list[JobRow]
    kind_window: int | None = None
    unreadable: list[Unreadable] = []
    """Listed ids whose data could not be read, with why (shown as rows of their own)."""


class FailedKey(Answer):
    """One key a delete could not remove."""

    key: str
    code: str
    message: str


class JobDetail(Answer):
    """Everything about one job, its payload's inline data truncated and nothing secret."""

    job_id: str
    status: str
    kind: str | None
    function: str | None
    payload: Any
    enqueued_at: float | None
    run_at: float | None
    started_at: float | None
    finished_at: float | None
    attempts: int
    lease_holder: str | None
    result: Any
    error_type: str | None
    error_code: str | None
    error_message: str | None
    failed_keys: list[FailedKey]
    failed_keys_total: int
    dead_letter: bool
    progress: PrefixJobProgress | None


class DeadLetterRow(Answer):
    """One dead letter in the list."""

    job_id: str
    kind: str | None
    function: str | None
    error_type: str
    code: str | None
    message: str
    attempts: int
    failed_at: float


class DeadLetterPage(Answer):
    """One page of dead letters, newest first, optionally filtered by kind and error type.

    Attributes:
        total: Dead letters of the queue.
        window: With a filter, how many dead letters were looked at for this page.
    """

    kind: str | None
    error_type: str | None
    offset: int
    limit: int
    total: int
    next_offset: int | None
    rows: list[DeadLetterRow]
    window: int | None = None
    unreadable: list[Unreadable] = []
    """Listed ids whose data could not be read, with why (shown as rows of their own)."""


class DeadLetterDetail(Answer):
    """One dead letter with its payload (inline data truncated, nothing secret)."""

    letter: DeadLetterRow
    payload: Any
    payload_encoding: str
    payload_truncated: bool


class WorkersPage(Answer):
    """Every worker heard from lately; ``stale`` ones missed three heartbeats."""

    stale_after: float
    workers: list[WorkerRow]
    unreadable: list[Unreadable] = []
    """Listed ids whose data could not be read, with why (shown as rows of their own)."""


class ActionResult(Answer):
    """What an action did.

    Attributes:
        action: One of ``ACTIONS``: ``replay``, ``drop``, ``cancel``, ``pause``, ``resume``,
            ``pause_queue``, ``resume_queue``.
        done: Ids it was applied to (for a queue action, the queue's name).
        refused: Id -> why not.
    """

    action: str
    done: list[str]
    refused: dict[str, str]
