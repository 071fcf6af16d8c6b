"""Schedules in Redis: their keys, their definitions and records, and the store that writes them.

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

import hashlib
import json
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast

from pydantic import ValidationError

from ..jobs import JobModel, spec_for_job, spec_for_name
from ._cadence import Cadence, check_schedule_name
from ._keys import Priority, check_priority

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..jobs import JobLimits
    from ._scripts import Scripts

__all__ = ["Overlap", "ScheduleDefinition", "ScheduleKeys", "ScheduleRecord", "ScheduleStore"]

Overlap = Literal["skip", "queue"]
"""What a tick does while the previous run is queued or running: skip it (counted) or queue."""

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


@dataclass(frozen=True)
class ScheduleDefinition:
    """What a schedule runs and when (checked: build it only from checked parts)."""

    name: str
    job: JobModel
    cadence: Cadence
    priority: Priority | None = None
    overlap: Overlap = "skip"

    @classmethod
    def build(
        cls,
        name: str,
        job: JobModel,
        *,
        every: float | timedelta | None = None,
        cron: str | None = None,
        timezone: str = "UTC",
        priority: Priority | None = None,
        overlap: Overlap = "skip",
        limits: JobLimits | None = None,
    ) -> ScheduleDefinition:
        """A schedule from what a user gave, every part checked before Redis is touched.

        Raises:
            ValueError: A bad name, priority or overlap, or cadence (``Cadence.build``).
            TypeError: If ``job`` is not a storage job.
            JobRejectedError: If the job breaks ``limits``.
        """
        check_schedule_name(name)
        if priority is not None:
            check_priority(priority)
        cadence = Cadence.build(every=every, cron=cron, timezone=timezone)
        definition = cls(name, job, cadence, priority, overlap)
        if limits is not None:
            limits.check(job)
        return definition

    def __post_init__(self) -> None:
        check_schedule_name(self.name)
        if self.overlap not in ("skip", "queue"):
            raise ValueError(f"overlap must be 'skip' or 'queue'; got {self.overlap!r}")
        if spec_for_job(self.job).internal:
            raise ValueError("a prefix job's batch cannot be scheduled; schedule the prefix job")

    def fields(self) -> dict[str, str]:
        """The stored fields of the definition (the anchor last: it is not part of the version)."""
        cadence = self.cadence
        return {
            "function": spec_for_job(self.job).function_name,
            "payload": self.job.model_dump_json(),
            "priority": self.priority or "",
            "overlap": self.overlap,
            "every_ms": "" if cadence.every_ms is None else str(cadence.every_ms),
            "cron": cadence.cron or "",
            "timezone": cadence.timezone,
            "anchor": str(cadence.anchor_ms),
        }

    @property
    def version(self) -> str:
        """A digest of the definition but its anchor: equal definitions, equal versions."""
        fields = self.fields()
        del fields["anchor"]
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule as stored (``client.schedules()``).

    Attributes:
        name: Its name.
        kind: Its job's kind (``upload``, ``copy``, ...).
        spec: Its cadence as it reads (``every 60s``, ``cron 0 3 * * * (UTC)``).
        next_tick: When it next ticks (when resumed, for a paused one).
        last_tick: The tick of its last run, if any.
        paused: Whether it is paused.
        runs: Ticks enqueued.
        skipped: Ticks skipped because the previous run was still queued or running.
        missed: Ticks that fell while no worker looked, each catch-up standing for them.
        overlap: ``skip`` or ``queue``.
        priority: Its jobs' lane (None: the default).
        last_job_id: The job id of its last run.
        job: Its job (None if the stored payload no longer reads as one).
        cadence: Its cadence.
        version: A digest of its definition.
        pending: The job id of a tick decided but not yet seen on the queue.
        retry_at: When another worker may enqueue that tick (ms).
        next_ms: ``next_tick`` in ms, as stored (0 when unknown).
    """

    name: str
    kind: str
    spec: str
    next_tick: datetime | None
    last_tick: datetime | None
    paused: bool
    runs: int
    skipped: int
    missed: int
    overlap: Overlap
    priority: Priority | None
    last_job_id: str | None
    job: JobModel | None
    cadence: Cadence
    version: str
    pending: str | None = None
    retry_at: int = 0
    next_ms: int = 0

    @classmethod
    def parse(cls, name: str, raw: dict[bytes, bytes] | dict[str, str]) -> ScheduleRecord:
        """A record from its hash, field by field; a field that does not read is left empty."""
        data = {_text(k): _text(v) for k, v in raw.items()}
        function = data.get("function", "")
        spec = spec_for_name(function)
        job: JobModel | None = None
        if spec is not None:
            try:
                job = spec.model.model_validate_json(data.get("payload", ""))
            except ValidationError:
                job = None
        every = data.get("every_ms") or ""
        cadence = Cadence(
            every_ms=int(every) if every.isdigit() else None,
            cron=data.get("cron") or None,
            timezone=data.get("timezone") or "UTC",
            anchor_ms=_int(data.get("anchor")),
        )
        priority = data.get("priority") or None
        return cls(
            name=name,
            kind=spec.kind if spec is not None else "unknown",
            spec=cadence.spec,
            next_tick=_when(data.get("next")),
            last_tick=_when(data.get("last")),
            paused=data.get("paused") == "1",
            runs=_int(data.get("runs")),
            skipped=_int(data.get("skipped")),
            missed=_int(data.get("missed")),
            overlap="queue" if data.get("overlap") == "queue" else "skip",
            priority=priority if priority in ("high", "normal", "bulk") else None,  # type: ignore[arg-type]
            last_job_id=data.get("last_job") or None,
            job=job,
            cadence=cadence,
            version=data.get("version", ""),
            pending=data.get("pending") or None,
            retry_at=_int(data.get("retry_at")),
            next_ms=_int(data.get("next")),
        )


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
        return {0: "unchanged", 1: "created", 2: "changed"}[int(answer)]  # type: ignore[return-value]

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


def _int(value: str | None) -> int:
    return int(value) if value and value.lstrip("-").isdigit() else 0


def _when(value: str | None) -> datetime | None:
    ms = _int(value)
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None
