"""What the HTTP enqueue API answers: one pydantic model per JSON shape (and its schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..queue import ErrorRecord, JobStatus

__all__ = ["ApiError", "BatchEnqueued", "Enqueued", "FieldError", "JobState"]


class FieldError(BaseModel):
    """One invalid field: where it is and what is wrong (never its value)."""

    model_config = ConfigDict(frozen=True)

    loc: list[str | int]
    """The field's path in the body (``["bucket"]``; ``["jobs", 3, "key"]`` in a batch) or the
    parameter's name (``["priority"]``, ``["Idempotency-Key"]``)."""
    msg: str
    type: str


class ApiError(BaseModel):
    """A refused request (401, 404, 413, 422, 503, ...)."""

    model_config = ConfigDict(frozen=True)

    detail: str
    errors: list[FieldError] = []


class Enqueued(BaseModel):
    """One job taken (``202``).

    ``enqueued`` is False when a job with this id already existed (a repeated
    ``Idempotency-Key``): nothing was added and ``job_id`` is the first request's.
    """

    model_config = ConfigDict(frozen=True)

    job_id: str
    enqueued: bool
    status_url: str


class BatchEnqueued(BaseModel):
    """A batch taken whole (``202``), one answer per job in the request's order."""

    model_config = ConfigDict(frozen=True)

    jobs: list[Enqueued]


class JobState(BaseModel):
    """Where a job is: ``result`` once complete, ``error`` once failed, cancelled or expired."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    status: JobStatus
    result: dict[str, Any] | None = None
    """The result model's JSON (``UploadResult``, ``DeleteResult``, ...), with its ``kind``."""
    error: ErrorRecord | None = None
