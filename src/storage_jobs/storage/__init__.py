"""The async S3 storage client: the reference API, with its gaps closed.

See ``_errors`` for the error hierarchy.
"""

from ._bulk import DELETE_BATCH_SIZE
from ._client import StorageClient
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
from ._facade import Storage
from ._objects import ObjectInfo

__all__ = [
    "DELETE_BATCH_SIZE",
    "ObjectInfo",
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
