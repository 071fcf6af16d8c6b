"""The producer side: enqueue typed jobs, follow them, read their typed results."""

from ..errors import JobCancelledError, JobExpiredError, JobFailedError
from ..queue import JobEvent, JobStatus, Priority, ScheduleRecord
from ._async_client import StorageJobsClient
from ._handle import JobHandle
from ._sync_client import SyncJobHandle, SyncStorageJobsClient

__all__ = [
    "JobCancelledError",
    "JobEvent",
    "JobExpiredError",
    "JobFailedError",
    "JobHandle",
    "JobStatus",
    "Priority",
    "ScheduleRecord",
    "StorageJobsClient",
    "SyncJobHandle",
    "SyncStorageJobsClient",
]
