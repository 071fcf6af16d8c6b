"""Request bodies of the HTTP enqueue API: read within a byte cap, validated by the catalog.

A body is a job as ``job.model_dump_json()`` writes it (``kind`` included), or a batch
``{"jobs": [...]}``. The accepted kinds are the catalog's (``jobs.CATALOG``) except the batches
prefix jobs enqueue for themselves (``JobSpec.internal``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from ..jobs import CATALOG, JobModel
from ..queue import Priority
from ._enqueue_answers import FieldError

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "ACCEPTED_KINDS",
    "MAX_BATCH_BODY",
    "MAX_BATCH_JOBS",
    "MAX_DEFER_S",
    "AcceptedJob",
    "BodyTooLarge",
    "EnqueueParams",
    "InvalidBody",
    "JobBatch",
    "idempotent_job_id",
    "parse_batch",
    "parse_job",
    "read_capped",
]

MAX_BATCH_JOBS = 1000
"""Jobs in one batch request at most (one enqueue script call: ``queue._enqueue.BATCH``)."""

MAX_BATCH_BODY = 16 * 1024 * 1024
"""Bytes of one batch request at most (what one enqueue script call carries)."""

MAX_DEFER_S = 365 * 24 * 3600
"""``defer_by`` at most: a year."""

_ACCEPTED = tuple(spec for spec in CATALOG if not spec.internal)
ACCEPTED_KINDS = frozenset(spec.kind for spec in _ACCEPTED)
"""The ``kind`` values the API takes."""

AcceptedJob: Any = Annotated[
    Union[tuple(spec.model for spec in _ACCEPTED)],  # noqa: UP007 - a union built from a tuple
    Field(discriminator="kind"),
]
"""Any accepted job, told apart by its ``kind``."""

JobBatch: type[BaseModel] = create_model(
    "JobBatch",
    __doc__="Up to 1,000 jobs, enqueued all or none.",
    jobs=(list[AcceptedJob], Field(min_length=1, max_length=MAX_BATCH_JOBS)),
)
"""The body of ``POST /api/v1/jobs:batch``."""


class EnqueueParams(BaseModel):
    """The query parameters of both POSTs."""

    model_config = ConfigDict(frozen=True)

    priority: Priority | None = None
    defer_by: float | None = Field(default=None, ge=0, le=MAX_DEFER_S, allow_inf_nan=False)
    expires: float | None = Field(default=None, gt=0, le=MAX_DEFER_S, allow_inf_nan=False)

    @model_validator(mode="after")
    def _expires_after_defer(self) -> EnqueueParams:
        if self.expires is not None and self.expires <= (self.defer_by or 0):
            raise ValueError("expires must be more than defer_by (seconds from now)")
        return self


_one: TypeAdapter[JobModel] = TypeAdapter(AcceptedJob)


class InvalidBody(Exception):
    """A body that is no valid job (or batch); ``errors`` name the fields."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = list(errors)


class BodyTooLarge(Exception):
    """A body over its cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body is over {cap} bytes")
        self.cap = cap


def parse_job(body: bytes) -> JobModel:
    """The job a body holds.

    Raises:
        InvalidBody: Naming each invalid field.
    """
    try:
        return _one.validate_json(body)
    except ValidationError as exc:
        raise InvalidBody(_field_errors(exc, union_at=0)) from None


def parse_batch(body: bytes) -> list[JobModel]:
    """The jobs a batch body holds, every one valid.

    Raises:
        InvalidBody: Naming each invalid field (``["jobs", i, field]``).
    """
    try:
        batch = JobBatch.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidBody(_field_errors(exc, union_at=2)) from None
    jobs: list[JobModel] = batch.jobs  # type: ignore[attr-defined]
    return jobs


def _field_errors(exc: ValidationError, *, union_at: int) -> list[FieldError]:
    """Pydantic's errors without input values, and without the union's tag in their paths.

    A job's fields sit under its tag (``("upload", "bucket")``); the tag is dropped, and a
    missing or unknown tag is put on ``kind`` where pydantic leaves the path at the union.
    """
    errors = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False)[:50]:
        loc = list(error["loc"])
        if len(loc) > union_at and loc[union_at] in ACCEPTED_KINDS:
            del loc[union_at]
        elif error["type"].startswith("union_tag") and len(loc) == union_at:
            loc.append("kind")
        errors.append(FieldError(loc=loc, msg=error["msg"], type=error["type"]))
    return errors


async def read_capped(request: Request, cap: int) -> bytes:
    """The request's body, read no further than ``cap`` bytes.

    Raises:
        BodyTooLarge: When ``Content-Length`` says more, or the stream goes past the cap.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise BodyTooLarge(cap)
        chunks.append(chunk)
    return b"".join(chunks)


def idempotent_job_id(queue: str, producer: str, key: str, index: int | None = None) -> str:
    """The job id an ``Idempotency-Key`` stands for: the same queue, producer and key, the same id.

    Derived, not stored: enqueueing an id that exists adds nothing (``enqueued: false``), so no
    key of its own is needed. A job's key (``arq:job:<id>``) is not per queue, so the queue is
    part of the id, as is the producer's name: producers cannot meet. A batch's jobs add their
    index (a key holds no NUL, so no single job's id is a batch job's).
    """
    named = "\x00".join([queue, producer, key, *([] if index is None else [str(index)])])
    digest = hashlib.sha256(named.encode()).hexdigest()
    return f"http-{digest[:32]}"
