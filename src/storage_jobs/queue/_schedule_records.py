"""A schedule's definition (what a user gave, checked) and its record (as stored, typed).

``ScheduleDefinition`` is built at the boundary (``build`` checks every part before Redis is
touched) and written by ``ScheduleStore.add``; ``ScheduleRecord`` is what ``ScheduleStore``
reads back (``client.schedules()``), field by field, so a field that does not read is empty
rather than an error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from ..jobs import JobModel, spec_for_job, spec_for_name
from ._cadence import Cadence, check_schedule_name
from ._keys import LANES, Priority, check_priority

if TYPE_CHECKING:
    from ..jobs import JobLimits

__all__ = ["Overlap", "ScheduleDefinition", "ScheduleRecord"]

Overlap = Literal["skip", "queue"]
"""What a tick does while the previous run is queued or running: skip it (counted) or queue."""


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
            priority=priority if priority in LANES else None,
            last_job_id=data.get("last_job") or None,
            job=job,
            cadence=cadence,
            version=data.get("version", ""),
            pending=data.get("pending") or None,
            retry_at=_int(data.get("retry_at")),
            next_ms=_int(data.get("next")),
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _int(value: str | None) -> int:
    return int(value) if value and value.lstrip("-").isdigit() else 0


def _when(value: str | None) -> datetime | None:
    ms = _int(value)
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None
