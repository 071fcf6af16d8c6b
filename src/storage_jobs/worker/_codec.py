"""JSON on the wire instead of arq's pickle: jobs and results are data, never code."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["JobFailure", "decode", "encode", "error_record"]


class JobFailure(Exception):
    """A job failed for good; what the result (and the producer's JobFailedError) carries."""

    def __init__(self, error_type: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.code = code
        self.message = message


def error_record(exc: BaseException) -> dict[str, Any]:
    """The JSON form of a failure: type, code and message, no traceback, no locals."""
    if isinstance(exc, JobFailure):
        return {"error_type": exc.error_type, "code": exc.code, "message": exc.message}
    return {
        "error_type": type(exc).__name__,
        "code": getattr(exc, "code", None),
        "message": str(exc)[:4000],
    }


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
        # A result dict: the payload is in the job already, and may be megabytes of inline data.
        data = {**data, "a": [], "k": {}}
    return json.dumps(data, default=_default, separators=(",", ":")).encode()


def decode(raw: bytes) -> dict[str, Any]:
    """Arq's ``job_deserializer``: JSON objects only; pickles and garbage are refused.

    Raises:
        ValueError: If the bytes are not a JSON object (arq then fails the job unrun).
    """
    if not raw[:1] == b"{":
        raise ValueError("not a JSON object (pickle or garbage payload refused)")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"invalid JSON payload: {type(exc).__name__}") from exc
    if not isinstance(data, dict):
        raise ValueError("payload must be a JSON object")
    return data
