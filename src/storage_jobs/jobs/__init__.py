"""Typed storage jobs: payloads, results, the registry and the functions that run them.

Nothing here knows arq: the worker adapts these to the queue.
"""

from ._context import JobContext
from ._limits import JobLimits, JobRejectedError
from ._models import CopyJob, DeleteJob, Job, JobModel, UploadJob, job_adapter
from ._registry import REGISTRY, JobSpec, spec_for_job, spec_for_name
from ._results import (
    CopyResult,
    DeleteFailure,
    DeleteResult,
    JobResult,
    UploadResult,
    result_adapter,
)
from ._retry import RETRYABLE_CODES, RetryPolicy, is_retryable, is_retryable_code

__all__ = [
    "REGISTRY",
    "RETRYABLE_CODES",
    "CopyJob",
    "CopyResult",
    "DeleteFailure",
    "DeleteJob",
    "DeleteResult",
    "Job",
    "JobContext",
    "JobLimits",
    "JobModel",
    "JobRejectedError",
    "JobResult",
    "JobSpec",
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
