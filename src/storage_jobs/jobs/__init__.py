"""Typed storage jobs: payloads, results, the registry and the functions that run them.

Nothing here knows arq: the worker adapts these to the queue.
"""

from ._context import FailedJob, JobContext
from ._kinds import Job, JobResult, job_adapter, result_adapter
from ._limits import JobLimits, JobRejectedError
from ._models import CopyJob, DeleteJob, JobModel, UploadJob
from ._prefix_models import (
    DeletePrefixBatchJob,
    DeletePrefixJob,
    MigrateBatchJob,
    MigrateJob,
    ObjectRef,
)
from ._prefix_results import BatchResult, DeletePrefixResult, MigrateResult
from ._progress import MigrationProgress, ProgressStore
from ._registry import REGISTRY, JobSpec, spec_for_job, spec_for_name
from ._results import CopyResult, DeleteFailure, DeleteResult, UploadResult
from ._retry import RETRYABLE_CODES, RetryPolicy, is_retryable, is_retryable_code

__all__ = [
    "REGISTRY",
    "RETRYABLE_CODES",
    "BatchResult",
    "CopyJob",
    "CopyResult",
    "DeleteFailure",
    "DeleteJob",
    "DeletePrefixBatchJob",
    "DeletePrefixJob",
    "DeletePrefixResult",
    "DeleteResult",
    "FailedJob",
    "Job",
    "JobContext",
    "JobLimits",
    "JobModel",
    "JobRejectedError",
    "JobResult",
    "JobSpec",
    "MigrateBatchJob",
    "MigrateJob",
    "MigrateResult",
    "MigrationProgress",
    "ObjectRef",
    "ProgressStore",
    "RetryPolicy",
    "UploadJob",
    "UploadResult",
    "is_retryable",
    "is_retryable_code",
    "job_adapter",
    "result_adapter",
    "spec_for_job",
    "spec_for_name",
]
