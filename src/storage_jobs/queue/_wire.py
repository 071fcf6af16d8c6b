"""The wire format: JSON instead of pickle; arq's job and result shapes, built and read here.

A job is arq's envelope ``{"t": tries, "f": function, "a": [payload JSON], "k": {}, "et": ms}``
whose one argument is the job model's JSON; a result is arq's
``{"t", "f", "a", "k", "et", "s": success, "r": value, "st", "ft", "q", "id"}`` with ``a`` and
``k`` emptied (the payload is in the job already and may be megabytes of inline data) and, for a
failure, ``r`` an ``ErrorRecord``. arq's own ``Job`` API reads both with ``decode`` as its
deserializer. Jobs and results are data, never code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from ..errors import JobCancelledError, JobExpiredError, JobFailedError
from ..jobs import JobModel, spec_for_name
from ..tracing import TRACE_FIELD
from ._memory import redis_said

__all__ = [
    "CANCELLED",
    "EXPIRED",
    "Envelope",
    "ErrorRecord",
    "JobFailure",
    "ResultRecord",
    "build_envelope",
    "build_result",
    "decode",
    "describe_validation_error",
    "encode",
    "error_record",
    "parse_envelope",
    "parse_result",
    "peek_function",
    "peek_priority",
]


CANCELLED = "JobCancelled"
"""The ``error_type`` of a cancelled job's result (read as status ``cancelled``)."""

EXPIRED = "JobExpired"
"""The ``error_type`` of a job not started before its ``expires`` (read as status ``expired``)."""


class JobFailure(Exception):
    """A job failed for good; what the result (and the producer's JobFailedError) carries."""

    def __init__(
        self,
        error_type: str,
        message: str,
        code: str | None = None,
        progress: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.code = code
        self.message = message
        self.progress = progress


class ErrorRecord(BaseModel):
    """How a job failed: type, code and message; never a traceback, locals or payload bytes."""

    error_type: str = "JobFailed"
    code: str | None = None
    message: str = ""
    progress: dict[str, Any] | None = None
    """What a cancelled job had done when it stopped (None for failures)."""

    def as_json(self) -> dict[str, Any]:
        """The record as stored: ``progress`` only when there is one (failures keep arq's shape)."""
        return self.model_dump(exclude={"progress"} if self.progress is None else set())


def error_record(exc: BaseException) -> dict[str, Any]:
    """The JSON form of a failure (an ``ErrorRecord`` as a dict)."""
    if isinstance(exc, JobFailure):
        record = ErrorRecord(
            error_type=exc.error_type, code=exc.code, message=exc.message, progress=exc.progress
        )
    else:
        code = getattr(exc, "code", None)
        record = ErrorRecord(
            error_type=type(exc).__name__,
            code=code if isinstance(code, str) else None,
            # redis-py quotes a failed pipeline's command (payloads included): keep Redis's words.
            message=(redis_said(exc) if isinstance(exc, RedisError) else str(exc))[:4000],
        )
    return record.as_json()


def describe_validation_error(exc: ValidationError, limit: int = 20) -> str:
    """Field locations and messages of a validation error.

    Never its input values, which may be megabytes of inline data or a secret.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<payload>'}: {e['msg']}"
        for e in exc.errors()[:limit]
    )


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return error_record(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        raise TypeError("raw bytes are not sent as JSON; encode them in the payload model")
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def encode(data: dict[str, Any]) -> bytes:
    """Arq's ``job_serializer``: JSON, results without a copy of the job's arguments."""
    if "s" in data:
        data = {**data, "a": [], "k": {}}
    # orjson writes the same bytes as json.dumps(separators=(",", ":")): a 1 KiB upload's
    # envelope in 2 us instead of 40 (and reads it in 5 instead of 19) on this machine.
    try:
        return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        # orjson wraps what ``_default`` raised; the caller wants its words, not orjson's.
        raise TypeError(str(exc.__cause__ or exc)) from exc.__cause__


def decode(raw: bytes) -> dict[str, Any]:
    """Arq's ``job_deserializer``: JSON objects only; pickles and garbage are refused.

    Raises:
        ValueError: If the bytes are not a JSON object (arq then fails the job unrun).
    """
    if not raw[:1] == b"{":
        raise ValueError("not a JSON object (pickle or garbage payload refused)")
    try:
        data = orjson.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"invalid JSON payload: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ValueError("payload must be a JSON object")
    return data


def build_envelope(
    function_name: str,
    payload_json: str,
    enqueue_ms: int,
    priority: str | None = None,
    trace: Mapping[str, str] | None = None,
    expires_ms: int | None = None,
) -> bytes:
    """Arq's job envelope around one payload (``"f"`` first, so ``peek_function`` finds it).

    A priority given explicitly rides along as ``"p"`` right after ``"f"`` (arq ignores it):
    a prefix job's coordinator reads it to give its batches that lane (``peek_priority``).
    An expiry rides as ``"x"`` (ms since the epoch) next, within the envelope's first bytes,
    where the claim (``lua/claim.lua``) reads it without decoding the payload. A producer's
    trace context rides last, as ``TRACE_FIELD`` (arq ignores it too); without one the envelope
    has not a byte more.
    """
    head: dict[str, Any] = {"f": function_name}
    if priority is not None:
        head["p"] = priority
    if expires_ms is not None:
        head["x"] = expires_ms
    data: dict[str, Any] = {**head, "t": 0, "a": [payload_json], "k": {}, "et": enqueue_ms}
    if trace is not None:
        data[TRACE_FIELD] = trace
    return encode(data)


def build_result(
    *,
    job_id: str,
    queue: str,
    function: str | None,
    tries: int,
    enqueue_ms: int,
    start_ms: int,
    finish_ms: int,
    error: ErrorRecord,
) -> bytes:
    """Arq's result record of a job that failed (or was cancelled) without arq finishing it.

    The same shape arq's ``finish_job`` stores, so arq's ``Job`` API and ``read_status`` read it.
    """
    return encode(
        {
            "t": tries,
            "f": function or "",
            "a": [],
            "k": {},
            "et": enqueue_ms,
            "s": False,
            "r": error.as_json(),
            "st": start_ms,
            "ft": finish_ms,
            "q": queue,
            "id": job_id,
        }
    )


@dataclass(frozen=True)
class Envelope:
    """A job as stored: its function, its payload's JSON, tries so far and enqueue time.

    Attributes:
        function: The queue function name.
        payload: The job model's JSON (the envelope's one argument).
        tries: arq's try counter in the envelope.
        enqueue_ms: When it was enqueued (ms since the epoch).
    """

    function: str
    payload: str
    tries: int
    enqueue_ms: int

    def job(self) -> JobModel:
        """The payload validated as the model its function names.

        Raises:
            ValueError: If the function is unknown.
            ValidationError: If the payload does not validate (the model's ``kind`` literal
                also refuses a payload of another kind).
        """
        spec = spec_for_name(self.function)
        if spec is None:
            raise ValueError(f"unknown job function {self.function!r}")
        return spec.model.model_validate_json(self.payload)


def parse_envelope(raw: bytes) -> Envelope:
    """Reads a stored job.

    Raises:
        ValueError: If the bytes are not JSON, not an envelope, or its arguments are not exactly
            one payload string.
    """
    data = decode(raw)
    args, function = data.get("a"), data.get("f")
    if data.get("k") or not isinstance(args, list) or len(args) != 1:
        raise ValueError("a job takes exactly one JSON payload string")
    if not isinstance(args[0], str) or not isinstance(function, str):
        raise ValueError("not a storage job")
    tries = data.get("t")
    enqueued = data.get("et")
    return Envelope(
        function=function,
        payload=args[0],
        tries=tries if isinstance(tries, int) else 0,
        enqueue_ms=enqueued if isinstance(enqueued, int) else 0,
    )


_PRIORITY = re.compile(rb'^\{"f":"(?:[^"\\]|\\.){1,200}","p":"(high|normal|bulk)"')


def peek_priority(raw: bytes) -> str | None:
    """The priority a job was enqueued with explicitly, or None (read off the envelope's head)."""
    found = _PRIORITY.match(raw[:320])
    return found.group(1).decode() if found else None


_FUNCTION = re.compile(rb'"f"\s*:\s*"((?:[^"\\]|\\.){1,200})"')


def peek_function(head: bytes) -> str | None:
    """The function name in the first bytes of a stored job, or None for a pickle or garbage.

    Lets readers count kinds with ``GETRANGE`` instead of reading megabyte payloads whole.
    """
    found = _FUNCTION.search(head) if head[:1] == b"{" else None
    return found.group(1).decode(errors="replace") if found else None


@dataclass(frozen=True)
class ResultRecord:
    """A stored result.

    Attributes:
        success: Whether the job succeeded.
        function: The queue function name.
        value: The result's JSON value (a result model's dict, or an ``ErrorRecord``'s).
        tries: Attempts made.
    """

    success: bool
    function: str | None
    value: Any
    tries: int

    @property
    def error(self) -> ErrorRecord:
        """The failure's record (meaningful when ``success`` is False)."""
        value = self.value if isinstance(self.value, dict) else {}
        progress = value.get("progress")
        return ErrorRecord(
            error_type=str(value.get("error_type", "JobFailed")),
            code=value.get("code") if isinstance(value.get("code"), str) else None,
            message=str(value.get("message", "")),
            progress=progress if isinstance(progress, dict) else None,
        )

    @property
    def cancelled(self) -> bool:
        """Whether the job was cancelled (it never ran, or stopped at a safe point)."""
        return not self.success and self.error.error_type == CANCELLED

    @property
    def expired(self) -> bool:
        """Whether the job expired before it started (it never ran)."""
        return not self.success and self.error.error_type == EXPIRED

    def typed(self, job_id: str) -> Any:
        """The result model of the job's kind.

        Raises:
            JobCancelledError: If the job was cancelled.
            JobExpiredError: If the job expired before it started.
            JobFailedError: If the job failed.
        """
        if self.cancelled:
            raise JobCancelledError(job_id, self.error.progress)
        if self.expired:
            raise JobExpiredError(job_id)
        if not self.success:
            error = self.error
            raise JobFailedError(job_id, error.error_type, error.message, error.code)
        spec = spec_for_name(self.function or "")
        if spec is None:
            return self.value
        return spec.result_model.model_validate(self.value)


def parse_result(raw: bytes) -> ResultRecord:
    """Reads a stored result; an undecodable one reads as a failure."""
    try:
        data = decode(raw)
    except ValueError as exc:
        return ResultRecord(False, None, ErrorRecord(message=str(exc)).model_dump(), 0)
    function = data.get("f")
    tries = data.get("t")
    return ResultRecord(
        success=bool(data.get("s")),
        function=function if isinstance(function, str) else None,
        value=data.get("r"),
        tries=tries if isinstance(tries, int) else 0,
    )
