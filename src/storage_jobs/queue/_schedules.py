"""Schedules in Redis: their keys, and the store that writes and reads them (``_schedule_records``).

Every key of a queue's schedules lives under the queue's ``home`` name (``Queue.home``), so on
a tagged queue (a cluster, or several shards) they share its one hash tag and each script call
touches one slot:

- ``storage-jobs:<home>:schedules``: the set of every schedule's name;
- ``storage-jobs:<home>:schedules:due``: name -> next tick (ms), paused ones left out: the one
  key a worker reads each check (``ScheduleStore.soonest``);
- ``storage-jobs:<home>:schedule:<name>``: a hash of its definition (job, cadence, lane,
  overlap, version) and state (next and last tick, the last run's job id, a pending tick,
  runs, skipped and missed counts, paused).

Operators write them (``schedule_add.lua``, ``schedule_control.lua``); workers move them on
(``schedule_tick.lua``, ``schedule_enqueued.lua``; see ``queue._ticks``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, cast

from ._cadence import check_schedule_name
from ._schedule_records import ScheduleDefinition, ScheduleRecord

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._scripts import Scripts

__all__ = ["ScheduleKeys", "ScheduleStore"]

Added = Literal["created", "changed", "unchanged"]


@dataclass(frozen=True)
class ScheduleKeys:
    """The key names of one queue's schedules, under its ``home`` name."""

    home: str

    @property
    def index(self) -> str:
        """Set of every schedule's name."""
        return f"storage-jobs:{self.home}:schedules"

    @property
    def due(self) -> str:
        """Sorted set of unpaused schedules by next tick (ms)."""
        return f"storage-jobs:{self.home}:schedules:due"

    def schedule(self, name: str) -> str:
        """Hash of one schedule's definition and state."""
        return f"storage-jobs:{self.home}:schedule:{name}"


class ScheduleStore:
    """A queue's schedules: write, pause, resume, remove and read them; move ticks on."""

    def __init__(self, redis: Redis, home: str, scripts: Scripts) -> None:
        self.redis = redis
        self.keys = ScheduleKeys(home)
        self.scripts = scripts

    def _keys(self, name: str) -> list[str]:
        return [self.keys.schedule(check_schedule_name(name)), self.keys.due, self.keys.index]

    async def add(self, definition: ScheduleDefinition, *, now_ms: int) -> Added:
        """Writes a schedule; an equal definition changes nothing (its ticks stay put).

        A new or changed one ticks first after ``now_ms`` (an every schedule is anchored there).
        """
        name = definition.name
        definition = replace(definition, cadence=replace(definition.cadence, anchor_ms=now_ms))
        next_tick = definition.cadence.first_after(now_ms)
        pairs = [item for pair in definition.fields().items() for item in pair]
        args = [name, definition.version, next_tick, now_ms, *pairs]
        (answer,) = await self.scripts.run_many([("schedule_add", self._keys(name), args)])
        added: dict[int, Added] = {0: "unchanged", 1: "created", 2: "changed"}
        return added[int(answer)]

    async def remove(self, name: str) -> bool:
        """Deletes a schedule (a tick being enqueued right now may still land); False if none."""
        return await self._control("remove", name) == 1

    async def pause(self, name: str) -> bool:
        """Pauses a schedule: no tick until resumed; False if none or paused already."""
        return await self._control("pause", name) == 1

    async def resume(self, name: str, *, now_ms: int) -> bool:
        """Resumes a paused schedule at its first tick after ``now_ms``; False if not paused."""
        for _ in range(3):  # -1: its definition changed between the read and the write
            record = await self.get(name)
            if record is None or not record.paused:
                return False
            next_tick = record.cadence.first_after(now_ms)
            answer = await self._control("resume", name, next_tick, record.version)
            if answer >= 0:
                return answer == 1
        return False

    async def _control(self, action: str, name: str, *extra: object) -> int:
        call = ("schedule_control", self._keys(name), [action, name, *extra])
        (answer,) = await self.scripts.run_many([call])
        return int(answer)

    async def get(self, name: str) -> ScheduleRecord | None:
        """One schedule, or None."""
        key = self.keys.schedule(check_schedule_name(name))
        raw = await cast("Awaitable[dict[bytes, bytes]]", self.redis.hgetall(key))
        return ScheduleRecord.parse(name, raw) if raw else None

    async def all(self) -> list[ScheduleRecord]:
        """Every schedule, by name (two round trips)."""
        members = await cast("Awaitable[set[bytes]]", self.redis.smembers(self.keys.index))
        names = sorted(_text(n) for n in members)
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.schedule(name))
            raws = await pipe.execute()
        return [ScheduleRecord.parse(n, r) for n, r in zip(names, raws, strict=True) if r]

    async def soonest(self, limit: int) -> list[tuple[str, int]]:
        """The ``limit`` unpaused schedules due soonest, with their due times (one command)."""
        found = await self.redis.zrangebyscore(
            self.keys.due, "-inf", "+inf", start=0, num=limit, withscores=True
        )
        return [(_text(name), int(score)) for name, score in found]

    async def decide(
        self, record: ScheduleRecord, *, run: bool, tick: int, missed: int, job_id: str,
        now_ms: int, retry_at: int,
    ) -> bool:  # fmt: skip
        """Moves a due schedule on past ``tick``, run or skipped; False if another worker did.

        Args:
            record: The schedule as read (its version and next tick must still hold).
            run: Run the tick (it is left pending until ``enqueued``), else skip it.
            tick: The tick decided.
            missed: Ticks before it that it stands for.
            job_id: The tick's job id, as the queue holds it.
            now_ms: Now.
            retry_at: When another worker may enqueue the pending tick.
        """
        next_tick = record.cadence.first_after(tick)
        args = [record.name, record.version, record.next_ms, "run" if run else "skip", tick]
        args += [next_tick, missed, job_id, now_ms, retry_at]
        keys = self._keys(record.name)[:2]
        (answer,) = await self.scripts.run_many([("schedule_tick", keys, args)])
        return int(answer) == 1

    async def enqueued(self, name: str, job_id: str) -> bool:
        """The pending tick ``job_id`` is on the queue; False if another worker said so first."""
        call = ("schedule_enqueued", self._keys(name)[:2], [name, job_id])
        (answer,) = await self.scripts.run_many([call])
        return int(answer) == 1


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
