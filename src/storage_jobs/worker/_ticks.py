"""The worker's schedule check: fire due ticks about once a second, in a task of its own.

Each check is ``Queue.fire_schedules``: one command (the due index's soonest entries) when
nothing is due. It wakes again after ``TICK_CHECK_S``, or sooner when the soonest schedule it
saw is due sooner, so a tick is enqueued within about a second of its time by whichever worker
looks first (``queue._ticks`` keeps it to one). Its own task: a worker whose every slot is busy,
or that blocks on the wake list, still checks. A failure is logged and the next check carries
on; the ticks it missed are caught up by one run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from ..queue import redis_said

if TYPE_CHECKING:
    from ..queue import Queue, TickRound

__all__ = ["TICK_CHECK_S", "Ticker"]

TICK_CHECK_S = 1.0
"""Seconds between two checks of a worker at most."""

_SPREAD_S = 0.02  # each wake-up at a tick is put off by up to this: workers do not all race


class Ticker:
    """Checks a queue's schedules for due ticks until cancelled."""

    def __init__(
        self, queue: Callable[[], Queue], event: Callable[..., None], *, every: float = TICK_CHECK_S
    ) -> None:
        """Binds the check to the worker.

        Args:
            queue: The worker's queue (read at each check: the worker reconnects).
            event: The worker's log (``level, event, **fields``).
            every: Seconds between checks at most.
        """
        self._queue = queue
        self._event = event
        self.every = every
        self.failing = False

    async def run(self) -> None:
        """Checks until cancelled."""
        while True:
            wait = await self.check()
            await asyncio.sleep(wait)

    async def check(self) -> float:
        """One check; returns the seconds to wait before the next."""
        now_ms = int(time.time() * 1000)
        try:
            round_ = await self._queue().fire_schedules(now_ms)
        except Exception as exc:  # the next check tries again: never end the worker's ticks
            if not self.failing:  # once a streak; Redis's own words, never a command's payload
                said = redis_said(exc) if isinstance(exc, RedisError) else str(exc)
                error = f"{type(exc).__name__}: {said}"[:300]
                self._event("warning", "schedule.check_failed", error=error)
            self.failing = True
            return self.every
        self.failing = False
        self._log(round_)
        if round_.more:
            return 0.0
        wait = self.every
        if round_.soonest_ms is not None:
            wait = min(wait, max(0.0, (round_.soonest_ms - now_ms) / 1000))
        return wait + random.uniform(0, _SPREAD_S)  # noqa: S311 - spacing only

    def _log(self, round_: TickRound) -> None:
        for tick in round_.ticks:
            fields: dict[str, Any] = {"schedule": tick.name, "tick_ms": tick.tick_ms}
            if tick.job_id is not None:
                fields.update(job_id=tick.job_id, enqueued=tick.enqueued)
            if tick.missed:
                fields["missed"] = tick.missed
            if tick.error is not None:
                fields["error"] = tick.error
            level = "info" if tick.outcome in ("run", "skipped") else "warning"
            self._event(level, f"schedule.{tick.outcome}", **fields)
