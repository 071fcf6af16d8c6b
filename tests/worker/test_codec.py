"""The JSON codec that replaces arq's pickle: data in, data out, nothing executable."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from storage_jobs.jobs import DeleteResult
from storage_jobs.queue import error_record
from storage_jobs.storage import StorageObjectNotFoundError
from storage_jobs.worker import JobFailure, decode, encode

JOB = {"t": 1, "f": "storage_jobs.delete", "a": ['{"kind":"delete"}'], "k": {}, "et": 1700}


def test_round_trip() -> None:
    """A job dict survives encode -> decode unchanged, as compact JSON."""
    raw = encode(JOB)
    assert raw.startswith(b"{")
    assert b" " not in raw
    assert decode(raw) == JOB


def test_models_and_datetimes_become_json() -> None:
    """Pydantic models dump to JSON data, datetimes to ISO strings."""
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    raw = encode({"r": DeleteResult(bucket="bkt", deleted_count=2), "when": when})
    assert decode(raw) == {
        "r": {"kind": "delete", "bucket": "bkt", "deleted_count": 2, "failed": [], "attempts": 1},
        "when": "2024-05-06T07:08:09+00:00",
    }


@pytest.mark.parametrize(
    "raw",
    [
        pickle.dumps(JOB),
        pickle.dumps(JOB, protocol=0),
        b"",
        b"garbage",
        b"\x00\x01\x02",
        b"[1, 2, 3]",
        b'"a string"',
        b"42",
        b"null",
        b" {}",
    ],
    ids=[
        "pickle",
        "pickle-protocol-0",
        "empty",
        "garbage",
        "binary",
        "array",
        "string",
        "number",
        "null",
        "leading-space",
    ],
)
def test_non_objects_are_refused(raw: bytes) -> None:
    """Pickles, garbage and JSON that is not an object raise ValueError."""
    with pytest.raises(ValueError, match="JSON object"):
        decode(raw)


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"a": }', b'{"a": 1} trailing', b'{"a": "\xff"}'],
    ids=["truncated", "bad-value", "trailing", "bad-utf8"],
)
def test_broken_json_objects_are_refused(raw: bytes) -> None:
    """Something that starts like an object but is not valid JSON raises ValueError."""
    with pytest.raises(ValueError, match="invalid JSON payload"):
        decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a":' + b'{"b":' * 100_000 + b"1" + b"}" * 100_001,
    ],
    ids=["bare-arrays", "arrays-in-object", "objects-in-object"],
)
def test_deeply_nested_json_bomb_is_refused(raw: bytes) -> None:
    """Deep nesting raises ValueError (not RecursionError, not a crash)."""
    with pytest.raises(ValueError, match="JSON") as info:
        decode(raw)
    assert not isinstance(info.value, RecursionError)


def test_result_dicts_drop_the_arguments() -> None:
    """A result dict (it has ``s``) is stored without a copy of the job's args and kwargs."""
    result = {**JOB, "a": ['{"data": "' + "A" * 10_000 + '"}'], "k": {"x": 1}, "s": True, "r": {}}
    data = decode(encode(result))
    assert data["a"] == []
    assert data["k"] == {}
    assert (data["f"], data["s"], data["r"]) == ("storage_jobs.delete", True, {})
    assert len(encode(result)) < 200
    assert result["k"] == {"x": 1}  # the caller's dict is not modified


def test_job_dicts_keep_their_arguments() -> None:
    """A job dict (no ``s``) keeps its arguments: they are the payload."""
    assert decode(encode({**JOB, "k": {"x": 1}}))["k"] == {"x": 1}


def test_exceptions_encode_as_error_records() -> None:
    """An exception becomes {error_type, code, message}: no traceback, no locals."""
    missing = StorageObjectNotFoundError("object not found: bkt/k", bucket="bkt", key="k")
    data = decode(encode({**JOB, "s": False, "r": missing}))
    assert data["r"] == {
        "error_type": "StorageObjectNotFoundError",
        "code": "NoSuchKey",
        "message": "object not found: bkt/k",
    }
    failure = JobFailure("InvalidPayload", "bucket: too short", code=None)
    assert decode(encode({"r": failure}))["r"] == {
        "error_type": "InvalidPayload",
        "code": None,
        "message": "bucket: too short",
    }
    assert decode(encode({"r": RuntimeError("boom")}))["r"] == {
        "error_type": "RuntimeError",
        "code": None,
        "message": "boom",
    }


def test_error_record_caps_the_message() -> None:
    """Huge exception messages are cut to 4,000 characters."""
    assert len(error_record(ValueError("x" * 10_000))["message"]) == 4000


@pytest.mark.parametrize(
    "value",
    [b"raw", bytearray(b"raw"), {"nested": [b"raw"]}],
    ids=["bytes", "bytearray", "nested-bytes"],
)
def test_raw_bytes_are_refused(value: Any) -> None:
    """Raw bytes must travel inside a payload model (base64), never as a bare value."""
    with pytest.raises(TypeError, match="raw bytes"):
        encode({"a": [value]})


def test_unknown_objects_are_refused() -> None:
    """Anything JSON cannot carry (here a set or an object) is a TypeError, not a pickle."""
    with pytest.raises(TypeError, match="cannot send set"):
        encode({"a": [{1, 2}]})
    with pytest.raises(TypeError, match="cannot send object"):
        encode({"a": [object()]})


def test_encoded_bytes_are_plain_json() -> None:
    """What encode writes is readable by any JSON parser (other languages can read results)."""
    assert json.loads(encode({**JOB, "s": True, "r": {"ok": 1}})) == {
        **JOB,
        "a": [],
        "s": True,
        "r": {"ok": 1},
    }
