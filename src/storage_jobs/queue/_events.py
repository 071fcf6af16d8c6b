"""Completion events: the one JSON shape of "a job ended", built from its result record.

Every job that ends (complete, failed, cancelled, expired) adds one entry to its queue's events
stream (``QueueKeys.events``: one per shard, hash-tagged with it), inside the same script call
that stores its result (``lua/finish.lua``, ``lua/finish_cancelled.lua``, ``lua/cancel.lua``),
trimmed to about ``events_maxlen`` entries (``XADD ... MAXLEN ~``). The entry holds one field,
``e``: a ``JobEvent``'s JSON. The writer (``event_data``) and every reader (``client.events``,
``storage-jobs events``, the worker's webhooks) use this one model.

A prefix job's batches (kinds whose spec is ``internal``) emit nothing: the prefix job emits one
event when its coordinator ends.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from ..jobs import spec_for_name
from ..settings import Settings
from ._wire import CANCELLED, EXPIRED

__all__ = [
    "EVENTS_MAXLEN",
    "EVENT_FIELD",
    "EventError",
    "EventStatus",
    "JobEvent",
    "event_data",
    "summary",
]

EVENTS_MAXLEN: int = Settings.model_fields["events_maxlen"].default
"""Events a stream keeps by default (``STORAGE_JOBS_EVENTS_MAXLEN``; 0 turns events off)."""

EVENT_FIELD = "e"
"""The stream entry's one field: the event's JSON."""

EventStatus = Literal["complete", "failed", "cancelled", "expired"]


class EventError(BaseModel):
    """Why a job did not complete: the error's type, code and message."""

    model_config = ConfigDict(frozen=True)

    type: str
    code: str | None = None
    message: str = ""


class JobEvent(BaseModel):
    """One job that ended.

    Attributes:
        id: Where a reader resumes after this event (``events(since=id)``): the stream entry's
            id; on a queue of N shards a composite cursor of every shard's position
            (``<id of shard 0>,<id of shard 1>,...``). Set by the reader; None as written.
        job_id: The job.
        kind: Its payload's kind (``upload``, ``migrate``, ...); None if unreadable.
        status: ``complete``, ``failed``, ``cancelled`` or ``expired``.
        attempt: The attempt it ended on (0: it never started).
        enqueued_ms: When it was enqueued (ms since the epoch).
        started_ms: When its last attempt started (None: it never started).
        finished_ms: When it ended.
        result: A complete job's result summary (``summary``).
        error: How any other job ended.
    """

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    job_id: str
    kind: str | None
    status: EventStatus
    attempt: int
    enqueued_ms: int
    started_ms: int | None = None
    finished_ms: int
    result: dict[str, Any] | None = None
    error: EventError | None = None


def summary(value: Any) -> dict[str, Any] | None:
    """A result's summary: its top-level scalars, and the length of each list or mapping.

    A prefix delete's result can list thousands of failed keys; an event stays small.
    """
    if not isinstance(value, dict):
        return None
    return {k: len(v) if isinstance(v, list | dict) else v for k, v in value.items()}


def event_data(job_id: str, result: bytes) -> bytes | None:
    """The event JSON of a job ending with this arq result record; None if it emits none.

    None for a prefix job's batch and for a record that is not a storage job's result.
    """
    try:
        data = orjson.loads(result)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    function = data.get("f")
    spec = spec_for_name(function) if isinstance(function, str) else None
    if spec is not None and spec.internal:
        return None
    value = data.get("r")
    status: EventStatus = "complete"
    error = None
    if not data.get("s"):
        record = value if isinstance(value, dict) else {}
        kind_of = str(record.get("error_type", "JobFailed"))
        status = (
            "cancelled" if kind_of == CANCELLED else "expired" if kind_of == EXPIRED else "failed"
        )
        code = record.get("code")
        error = EventError(
            type=kind_of,
            code=code if isinstance(code, str) else None,
            message=str(record.get("message", ""))[:500],
        )
    started = data.get("st")
    event = JobEvent(
        job_id=job_id,
        kind=spec.kind if spec is not None else None,
        status=status,
        attempt=_int(data.get("t")),
        enqueued_ms=_int(data.get("et")),
        started_ms=started if isinstance(started, int) and status != "expired" else None,
        finished_ms=_int(data.get("ft")),
        result=summary(value) if status == "complete" else None,
        error=error,
    )
    return event.model_dump_json(exclude={"id"}, exclude_none=True).encode()


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
