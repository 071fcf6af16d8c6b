"""The storage errors, and the one place that maps backend failures onto them.

Hierarchy::

    StorageError                      every storage failure; ``code`` always set
    ├── StorageNotConnectedError      a method called before connect() or after disconnect()
    ├── StorageObjectNotFoundError    missing key (``bucket``, ``key``)
    ├── StorageBucketNotFoundError    missing bucket (``bucket``)
    ├── StorageAccessDeniedError      403 / AccessDenied (``bucket``, ``key`` when known)
    ├── StoragePartialDeleteError     per-key DeleteObjects failures (``errors``, ``deleted``)
    └── StorageBackendError           anything else: network, 5xx, throttling, unknown 4xx

Every error raised from a backend failure chains the original exception (``raise ... from exc``).
Secrets never reach these messages: they are built from codes, buckets, keys and the server's
message only.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

__all__ = [
    "StorageAccessDeniedError",
    "StorageBackendError",
    "StorageBucketNotFoundError",
    "StorageError",
    "StorageNotConnectedError",
    "StorageObjectNotFoundError",
    "StoragePartialDeleteError",
    "map_backend_error",
]

NETWORK_ERROR = "NetworkError"
"""The ``code`` given to failures that never got an S3 answer (refused, reset, timeout)."""


class StorageError(Exception):
    """Base exception for all storage errors.

    Attributes:
        code: The S3 error code, or a code of ours (``NotConnected``, ``NetworkError``).
        status: The HTTP status of the answer, when there was one.
        bucket: The bucket the call was about, when known.
        key: The key the call was about, when known.
    """

    default_code = "StorageError"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        bucket: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        self.bucket = bucket
        self.key = key


class StorageNotConnectedError(StorageError):
    """Raised when the storage client is used before connect() or after disconnect()."""

    default_code = "NotConnected"


class StorageObjectNotFoundError(StorageError):
    """Raised when an S3 object lookup targets a missing key."""

    default_code = "NoSuchKey"


class StorageBucketNotFoundError(StorageError):
    """Raised when an operation targets a missing bucket."""

    default_code = "NoSuchBucket"


class StorageAccessDeniedError(StorageError):
    """Raised when S3 rejects a call with AccessDenied / 403."""

    default_code = "AccessDenied"


class StoragePartialDeleteError(StorageError):
    """Raised when DeleteObjects reports per-key failures.

    Attributes:
        errors: ``{"key", "code", "message"}`` dicts, one per key that was not deleted.
        deleted: The keys that were deleted by the same call.
    """

    default_code = "PartialDelete"

    def __init__(
        self,
        errors: Sequence[Mapping[str, str]],
        deleted: Sequence[str],
        *,
        bucket: str | None = None,
    ) -> None:
        self.errors = [
            {"key": e["key"], "code": e["code"], "message": e.get("message", "")} for e in errors
        ]
        self.deleted = list(deleted)
        codes = sorted({e["code"] for e in self.errors})
        super().__init__(
            f"{len(self.errors)} key(s) not deleted ({', '.join(codes)}); "
            f"{len(self.deleted)} deleted",
            bucket=bucket,
        )


class StorageBackendError(StorageError):
    """Wraps an unrecognised backend failure (network, 5xx, unknown 4xx).

    The original exception is always chained, so the backend's type and traceback stay visible.
    """

    default_code = "BackendError"


_NOT_FOUND_KEY = frozenset({"NoSuchKey", "NotFound", "404"})
_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
# 403s that are no denial: an archived source not restored (a copy's refusal keeps its code).
_NOT_DENIED = frozenset({"ObjectNotInActiveTierError", "InvalidObjectState"})


@functools.cache
def _backend_errors() -> tuple[type[ClientError], tuple[type[BaseException], ...]]:
    # Imported on first use: producers import this error tree (through the job models) and
    # must not pay for botocore and aiohttp, which only a worker's failures need.
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    network = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, OSError)
    return ClientError, network


def map_backend_error(
    exc: BaseException, *, bucket: str | None = None, key: str | None = None
) -> StorageError:
    """Turns a botocore/aiohttp failure into the matching storage error.

    Call as ``raise map_backend_error(exc, ...) from exc``. A bare 404 on a HEAD maps to
    ``StorageObjectNotFoundError`` when a key is given; callers that must tell a missing bucket from
    a missing key check the bucket themselves (a HEAD answer has no body to say which).

    Args:
        exc: The exception raised by the backend call.
        bucket: The bucket of the call, if any.
        key: The key of the call, if any.

    Returns:
        The storage error to raise.
    """
    if isinstance(exc, StorageError):
        return exc
    client_error, network_errors = _backend_errors()
    if isinstance(exc, client_error):
        error: Mapping[str, Any] = exc.response.get("Error", {})
        meta: Mapping[str, Any] = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or meta.get("HTTPStatusCode") or "Unknown")
        status = meta.get("HTTPStatusCode")
        message = str(error.get("Message") or code)
        where = _where(bucket, key)
        if code == "NoSuchBucket":
            return StorageBucketNotFoundError(
                f"bucket not found: {bucket}", code=code, status=status, bucket=bucket
            )
        if code in _NOT_FOUND_KEY:
            if key is None:
                return StorageBucketNotFoundError(
                    f"bucket not found: {bucket}", code="NoSuchBucket", status=status, bucket=bucket
                )
            return StorageObjectNotFoundError(
                f"object not found: {where}",
                code="NoSuchKey",
                status=status,
                bucket=bucket,
                key=key,
            )
        if code in _DENIED or (status == 403 and code not in _NOT_DENIED):
            return StorageAccessDeniedError(
                f"access denied: {where}: {message}",
                code="AccessDenied",
                status=status,
                bucket=bucket,
                key=key,
            )
        return StorageBackendError(
            f"{code}: {message} ({where})", code=code, status=status, bucket=bucket, key=key
        )
    if isinstance(exc, network_errors):
        return StorageBackendError(
            f"network failure on {_where(bucket, key)}: {type(exc).__name__}: {exc}",
            code=NETWORK_ERROR,
            bucket=bucket,
            key=key,
        )
    return StorageBackendError(
        f"unexpected failure on {_where(bucket, key)}: {type(exc).__name__}",
        bucket=bucket,
        key=key,
    )


def _where(bucket: str | None, key: str | None) -> str:
    if bucket is None:
        return "<no bucket>"
    return f"{bucket}/{key}" if key is not None else bucket
