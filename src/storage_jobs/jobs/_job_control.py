"""Operator control as a running job sees it: is it cancelled, is its prefix job paused.

Handlers poll ``JobContext.control`` at their safe points (between S3 requests or batches) and
raise ``JobCancelled`` with what they did; the worker turns that into the job's cancelled result.
The queue layer implements ``JobControl`` over Redis; jobs/ never sees where the flags live.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = [
    "JobCancelled",
    "JobControl",
    "JobPaused",
    "JobWaiting",
    "NoControl",
    "halt_error",
    "halted",
]


class JobCancelled(Exception):
    """Raised by a handler that stopped at a safe point because its job was cancelled.

    Attributes:
        progress: What it did before stopping (JSON-ready), kept in the cancelled result.
    """

    def __init__(self, progress: dict[str, Any] | None = None) -> None:
        super().__init__("cancelled by an operator")
        self.progress = dict(progress or {})


class JobPaused(Exception):
    """Raised by a batch that stopped at a safe point because its prefix job is paused.

    The worker puts the batch back on the queue (its attempt not counted), where the claim
    parks it until the prefix job resumes; the batch's re-run skips every key it recorded.

    Attributes:
        progress: What it did before stopping (JSON-ready), for the log.
    """

    def __init__(self, progress: dict[str, Any] | None = None) -> None:
        super().__init__("paused by an operator")
        self.progress = dict(progress or {})


class JobWaiting(Exception):
    """Raised by a job that waits on something outside (archived sources being restored).

    The worker puts it back on the queue due ``delay_s`` from now, its attempt not counted: the
    wait holds no slot and no lease, and outlives worker restarts. Its re-run finds what it
    recorded and checks again.

    Attributes:
        delay_s: Seconds until it runs again.
        progress: What it did so far (JSON-ready), for the log.
    """

    def __init__(self, delay_s: float, progress: dict[str, Any] | None = None) -> None:
        super().__init__(f"waiting {delay_s:g} s")
        self.delay_s = delay_s
        self.progress = dict(progress or {})


class JobControl(Protocol):
    """The operator's flags on one running job, and what a coordinator does to its batches."""

    async def cancelled(self) -> bool:
        """Whether this job (or the prefix job it is a batch of) is cancelled.

        Cheap enough to call before every request: answers are cached for a fraction of a
        second, so a safe point costs at most a couple of Redis reads a second.
        """

    async def paused(self) -> bool:
        """Whether this prefix job (or the one it is a batch of) is paused (cached likewise)."""

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Cancels other jobs (a coordinator's batches): queued ones never run."""

    async def unfinished(self, job_ids: Sequence[str]) -> list[str]:
        """The jobs among ``job_ids`` that have no result yet (may still run)."""


class NoControl:
    """A job nobody can cancel or pause (unit tests, plain runs)."""

    async def cancelled(self) -> bool:
        """Never cancelled."""
        return False

    async def paused(self) -> bool:
        """Never paused."""
        return False

    async def cancel(self, job_ids: Sequence[str]) -> None:
        """Nothing to cancel."""

    async def unfinished(self, job_ids: Sequence[str]) -> list[str]:
        """Nothing runs elsewhere."""
        return []


async def halted(control: JobControl) -> str | None:
    """Whether a batch must stop at this safe point: ``cancelled``, ``paused`` or None."""
    if await control.cancelled():
        return "cancelled"
    if await control.paused():
        return "paused"
    return None


def halt_error(reason: str, progress: dict[str, Any]) -> JobCancelled | JobPaused:
    """The exception a batch stopped for ``reason`` (from ``halted``) raises."""
    return JobCancelled(progress) if reason == "cancelled" else JobPaused(progress)
