"""What the dashboard can change, in one place, each action logged with its ids.

Dead letters are replayed or dropped; jobs cancelled; migrations and prefix deletes paused,
resumed or cancelled; the queue paused and resumed (issue 12's ``queue.Control``); schedules
paused, resumed or removed (their name is the id). ``ACTIONS`` names them all; every page form
posts one of them to the endpoint ``page_routes`` (or ``schedule_routes``) gives it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import JobRejectedError, ReplayRefusedError
from ..queue import Control, DeadLetterStore
from ._answers import ActionResult
from ._letters import read_letters
from ._reads import matches

if TYPE_CHECKING:
    from ..queue import Queue
    from ..settings import Settings

__all__ = [
    "ACTIONS",
    "DEAD_LETTER_ACTIONS",
    "JOB_ACTIONS",
    "QUEUE_ACTIONS",
    "SCHEDULE_ACTIONS",
    "Actions",
]

DEAD_LETTER_ACTIONS = ("replay", "drop")
"""On dead letters (``POST /actions/dead-letters``)."""
JOB_ACTIONS = ("cancel", "pause", "resume")
"""On jobs (``POST /actions/jobs``): any job cancels; migrations and prefix deletes pause."""
QUEUE_ACTIONS = ("pause_queue", "resume_queue")
"""On the queue itself (``POST /actions/queue``); the queue's name is the one id."""
SCHEDULE_ACTIONS = ("pause_schedule", "resume_schedule", "remove_schedule")
"""On schedules (``POST /actions/schedules``, ``_schedule_pages``); a schedule's name is its id."""
ACTIONS = DEAD_LETTER_ACTIONS + JOB_ACTIONS + QUEUE_ACTIONS + SCHEDULE_ACTIONS
"""Every action the dashboard runs (each needs ``STORAGE_JOBS_DASHBOARD_ACTIONS`` and CSRF)."""

_LOG_IDS = 1000  # ids per ``dashboard.action`` line, so a bulk action logs every id
_CHUNK = 1000


@dataclass(frozen=True)
class Actions:
    """Runs actions on one queue for one dashboard user (who is logged with each)."""

    queue: Queue
    settings: Settings
    log: Any

    @property
    def store(self) -> DeadLetterStore:
        """The queue's dead letters."""
        return self.queue.dead_letters

    async def run(self, action: str, ids: list[str], *, via: str) -> ActionResult:
        """Applies ``action`` to each id and logs what it did.

        Args:
            action: One of ``ACTIONS``.
            ids: The job ids (for a queue action, the queue's name).
            via: How it was asked for (``page``, ``bulk:selected``, ``bulk:filter``).

        Raises:
            ValueError: For an unknown action.
        """
        table: dict[str, Callable[[str], Awaitable[str | None]]] = {
            "replay": self._replay,
            "drop": self._drop,
            "cancel": self._cancel,
            "pause": self._pause,
            "resume": self._resume,
            "pause_queue": self._pause_queue,
            "resume_queue": self._resume_queue,
            "pause_schedule": self._pause_schedule,
            "resume_schedule": self._resume_schedule,
            "remove_schedule": self._remove_schedule,
        }
        step = table.get(action)
        if step is None:
            raise ValueError(f"unknown action {action!r}")
        done: list[str] = []
        refused: dict[str, str] = {}
        for job_id in ids:
            why = await step(job_id)
            if why is None:
                done.append(job_id)
            else:
                refused[job_id] = why
        for start in range(0, max(len(ids), 1), _LOG_IDS):
            self.log.info(
                "dashboard.action",
                action=action,
                via=via,
                queue=self.settings.queue_name,
                ids=ids[start : start + _LOG_IDS],
                requested=len(ids),
                done=len(done),
                refused=len(refused),
            )
        return ActionResult(action=action, done=done, refused=refused)

    async def _replay(self, job_id: str) -> str | None:
        try:
            await self.store.replay(
                job_id, limits=self.settings.job_limits(), result_ttl=self.settings.result_ttl
            )
        except ReplayRefusedError as exc:
            return f"{exc.reason}: {exc.detail}"
        return None

    async def _drop(self, job_id: str) -> str | None:
        return None if await self.store.drop(job_id) else "not_found: no dead letter with this id"

    @property
    def control(self) -> Control:
        """The queue's cancel markers and pause flags."""
        return self.queue.control

    async def _cancel(self, job_id: str) -> str | None:
        (cancelled,) = await self.control.cancel([job_id])
        return None if cancelled else "finished: the job had finished already or is unknown"

    async def _pause(self, job_id: str) -> str | None:
        try:
            paused = await self.control.pause_job(job_id)
        except JobRejectedError as exc:
            return f"not_pausable: {exc}"
        return None if paused else "not_paused: finished, unknown, or paused already"

    async def _resume(self, job_id: str) -> str | None:
        return None if await self.control.resume_job(job_id) else "not_paused: it was not paused"

    def _this_queue(self, name: str) -> str | None:
        if name != self.settings.queue_name:
            return f"other_queue: this dashboard shows {self.settings.queue_name!r}"
        return None

    async def _pause_queue(self, name: str) -> str | None:
        if why := self._this_queue(name):
            return why
        return None if await self.control.pause_queue() else "paused_already: it was paused"

    async def _resume_queue(self, name: str) -> str | None:
        if why := self._this_queue(name):
            return why
        return None if await self.control.resume_queue() else "not_paused: it was not paused"

    async def _pause_schedule(self, name: str) -> str | None:
        paused = await self.queue.schedules.pause(name)
        return None if paused else "not_paused: no such schedule, or paused already"

    async def _resume_schedule(self, name: str) -> str | None:
        resumed = await self.queue.schedules.resume(name, now_ms=int(time.time() * 1000))
        return None if resumed else "not_resumed: no such schedule, or not paused"

    async def _remove_schedule(self, name: str) -> str | None:
        return None if await self.queue.schedules.remove(name) else "not_found: no such schedule"

    async def matching(self, kind: str | None, error_type: str | None) -> list[str]:
        """Every dead letter id a filter matches, newest first (read in chunks, for bulk)."""
        found: list[str] = []
        offset = 0
        while True:
            listed, _ = await self.queue.listings.ids("dead", offset=offset, limit=_CHUNK)
            if not listed:
                return found
            offset += len(listed)
            if kind is None and error_type is None:
                found.extend(job_id for job_id, _ in listed)
                continue
            ids = [job_id for job_id, _ in listed]
            for read in await read_letters(self.queue, ids, budget=None):
                if read.letter is not None and matches(read.letter, kind, error_type):
                    found.append(read.job_id)  # an unreadable letter matches no filter
