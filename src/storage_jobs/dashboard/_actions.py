"""What the dashboard can change, in one place, each action logged with its ids.

Today: replay and drop dead letters. Cancel, pause and resume (issue 12) plug in as entries
of ``Actions.run``'s table once the client has them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ReplayRefusedError
from ..queue import DeadLetterStore, list_ids
from ._models import ActionResult
from ._reads import matches

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..settings import Settings

__all__ = ["ACTIONS", "Actions"]

ACTIONS = ("replay", "drop")
"""The dead-letter actions (issue 12 adds ``cancel``, ``pause``, ``resume`` for jobs)."""

_LOG_IDS = 1000  # ids per ``dashboard.action`` line, so a bulk action logs every id
_CHUNK = 1000


@dataclass(frozen=True)
class Actions:
    """Runs actions on one queue for one dashboard user (who is logged with each)."""

    redis: Redis
    settings: Settings
    log: Any

    @property
    def store(self) -> DeadLetterStore:
        """The queue's dead letters."""
        return DeadLetterStore(self.redis, self.settings.queue_name)

    async def run(self, action: str, ids: list[str], *, via: str) -> ActionResult:
        """Applies ``action`` to each id and logs what it did.

        Args:
            action: One of ``ACTIONS``.
            ids: The job ids.
            via: How it was asked for (``page``, ``bulk:selected``, ``bulk:filter``).

        Raises:
            ValueError: For an unknown action.
        """
        table: dict[str, Callable[[str], Awaitable[str | None]]] = {
            "replay": self._replay,
            "drop": self._drop,
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

    async def matching(self, kind: str | None, error_type: str | None) -> list[str]:
        """Every dead letter id a filter matches, newest first (read in chunks, for bulk)."""
        found: list[str] = []
        offset = 0
        while True:
            listed, _ = await list_ids(
                self.redis, self.settings.queue_name, "dead", offset=offset, limit=_CHUNK
            )
            if not listed:
                return found
            offset += len(listed)
            if kind is None and error_type is None:
                found.extend(job_id for job_id, _ in listed)
                continue
            for letter in await self.store.get_many([job_id for job_id, _ in listed]):
                if matches(letter, kind, error_type):
                    found.append(letter.job_id)
