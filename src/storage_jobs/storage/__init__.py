"""The async S3 storage client: the reference API, with its gaps closed.

See ``_errors`` for the error hierarchy. The client and its helpers are imported on first use,
so code that only needs the error tree or the config (producers) does not load aiobotocore.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._attributes import ATTRIBUTES, Attribute, AttributeLoss, ObjectAttributes
from ._bucket_table import MAX_BUCKETS, BucketTable
from ._config import StorageConfig
from ._errors import (
    StorageAccessDeniedError,
    StorageBackendError,
    StorageBucketNotFoundError,
    StorageError,
    StorageNotConnectedError,
    StorageObjectNotFoundError,
    StoragePartialDeleteError,
)
from ._limiter import BatchedRateLimiter, LocalRateLimiter, RateLimits, RequestLimiter
from ._objects import ObjectInfo

if TYPE_CHECKING:
    from ._bulk import DELETE_BATCH_SIZE
    from ._client import StorageClient
    from ._facade import Storage

__all__ = [
    "ATTRIBUTES",
    "DELETE_BATCH_SIZE",
    "MAX_BUCKETS",
    "Attribute",
    "AttributeLoss",
    "BatchedRateLimiter",
    "BucketTable",
    "LocalRateLimiter",
    "ObjectAttributes",
    "ObjectInfo",
    "RateLimits",
    "RequestLimiter",
    "Storage",
    "StorageAccessDeniedError",
    "StorageBackendError",
    "StorageBucketNotFoundError",
    "StorageClient",
    "StorageConfig",
    "StorageError",
    "StorageNotConnectedError",
    "StorageObjectNotFoundError",
    "StoragePartialDeleteError",
]

_LAZY = {"DELETE_BATCH_SIZE": "_bulk", "StorageClient": "_client", "Storage": "_facade"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
