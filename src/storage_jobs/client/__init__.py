"""The producer side: enqueue typed jobs, follow them, read their typed results."""

from ._client import StorageJobsClient
from ._handle import JobFailedError, JobHandle, JobStatus
from ._sync import SyncJobHandle, SyncStorageJobsClient

__all__ = [
    "JobFailedError",
    "JobHandle",
    "JobStatus",
    "StorageJobsClient",
    "SyncJobHandle",
    "SyncStorageJobsClient",
]
