"""When a schedule ticks: every N seconds, or a cron expression in a time zone.

Ticks are Unix times in milliseconds. An ``every`` schedule ticks at ``anchor + k * every``
(the anchor is when its definition was last changed); a cron schedule ticks where ``croniter``
says, read in the schedule's time zone (``zoneinfo``), so daylight saving time is croniter's:
a wall-clock time that does not exist runs at the first time after it, one that exists twice
runs once. We parse no cron expression ourselves.

``Cadence.build`` is the boundary's check of what a user gave: a clear ``ValueError`` for a bad
expression, both or neither of every and cron, a period under ``MIN_EVERY_S``, an unknown time
zone. ``check_schedule_name`` checks a schedule's name, and ``tick_job_id`` is the job id of
one tick: the same schedule and tick always name the same job, so the queue's refusal of a
taken id keeps a tick from running twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

__all__ = [
    "MIN_EVERY_S",
    "MISSED_COUNTED",
    "Cadence",
    "check_schedule_name",
    "tick_job_id",
]

MIN_EVERY_S = 1.0
"""The shortest period: workers look for due schedules about once a second."""

MISSED_COUNTED = 1000
"""Missed cron ticks counted one by one at most (an outage of years is not walked through)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_schedule_name(name: object) -> str:
    """The name itself, if it is 1-100 letters, digits, ``_``, ``.`` or ``-`` (not first).

    Raises:
        ValueError: If it is not.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"a schedule's name is 1-100 letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit; got {name!r}"
        )
    return name


def tick_job_id(queue: str, name: str, tick_ms: int) -> str:
    """The job id of one tick of a schedule of a queue (tagged by a sharded queue).

    It names the queue too: job keys are shared by every queue of a database, and two queues'
    schedules of one name must not take each other's ticks.
    """
    return f"schedule:{queue}:{name}:{tick_ms}"


@dataclass(frozen=True)
class Cadence:
    """A schedule's ticks.

    Attributes:
        every_ms: The period of an ``every`` schedule (None for cron).
        cron: The cron expression of a cron schedule (None for every).
        timezone: The zone a cron expression is read in (``UTC`` for every).
        anchor_ms: An ``every`` schedule ticks at ``anchor_ms + k * every_ms``.
    """

    every_ms: int | None = None
    cron: str | None = None
    timezone: str = "UTC"
    anchor_ms: int = 0

    @classmethod
    def build(
        cls,
        *,
        every: float | timedelta | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        anchor_ms: int = 0,
    ) -> Cadence:
        """Checks what a user gave.

        Raises:
            ValueError: If neither or both of ``every`` and ``cron`` are given, ``every`` is
                under ``MIN_EVERY_S`` (or not a number), ``cron`` is not an expression croniter
                reads, ``timezone`` is unknown, or a time zone is given for an every schedule.
        """
        if (every is None) == (cron is None):
            raise ValueError("give exactly one of every= (seconds) or cron= (an expression)")
        _zone(timezone)
        if cron is not None:
            if not isinstance(cron, str) or not croniter.is_valid(cron):
                raise ValueError(f"not a cron expression croniter reads: {cron!r}")
            return cls(cron=" ".join(cron.split()), timezone=timezone, anchor_ms=anchor_ms)
        if timezone != "UTC":
            raise ValueError("a time zone applies to cron schedules only")
        seconds = every.total_seconds() if isinstance(every, timedelta) else every
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"every must be seconds (a number) or a timedelta; got {every!r}")
        if not seconds > 0:
            raise ValueError(f"every must be > 0 seconds; got {seconds}")
        if seconds < MIN_EVERY_S:
            raise ValueError(f"every must be at least {MIN_EVERY_S:g} s; got {seconds}")
        return cls(every_ms=round(seconds * 1000), anchor_ms=anchor_ms)

    @property
    def spec(self) -> str:
        """How it reads: ``every 60s`` or ``cron 0 3 * * * (Europe/Paris)``."""
        if self.every_ms is not None:
            return f"every {self.every_ms / 1000:g}s"
        return f"cron {self.cron} ({self.timezone})"

    def first_after(self, after_ms: int) -> int:
        """The first tick strictly after ``after_ms``."""
        if self.every_ms is not None:
            periods = (after_ms - self.anchor_ms) // self.every_ms + 1
            return self.anchor_ms + max(periods, 1) * self.every_ms
        return _ms(self._cron(after_ms).get_next(datetime))

    def latest_due(self, next_ms: int, now_ms: int) -> tuple[int, int]:
        """The last tick at or before ``now_ms``, and how many due ticks came before it.

        Args:
            next_ms: The schedule's next tick, due (``<= now_ms``).
            now_ms: Now.

        Returns:
            ``(tick, missed)``: the one tick to run (a catch-up runs once, as the latest tick)
            and the ticks from ``next_ms`` on that it stands for (``MISSED_COUNTED`` at most
            for cron).
        """
        if now_ms < next_ms:
            raise ValueError("the schedule is not due")
        if self.every_ms is not None:
            missed = (now_ms - next_ms) // self.every_ms
            return next_ms + missed * self.every_ms, missed
        # The last tick at or before now (get_prev is strict, so ask from a millisecond later).
        latest = _ms(self._cron(now_ms + 1).get_prev(datetime))
        if latest <= next_ms:
            return next_ms, 0
        walk, missed, tick = self._cron(next_ms), 0, next_ms
        while tick < latest and missed < MISSED_COUNTED:
            tick, missed = _ms(walk.get_next(datetime)), missed + 1
        return latest, missed

    def _cron(self, at_ms: int) -> croniter:
        start = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(_zone(self.timezone))
        return croniter(self.cron or "", start)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name, e.g. 'Europe/Paris')"
        ) from None


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)
