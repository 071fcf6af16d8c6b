"""Typed storage jobs: payloads, results, limits, the catalog, and the functions that run them.

Nothing here knows arq or Redis: the queue layer stores and carries these, the worker runs the
handlers (``storage_jobs.jobs._upload`` and friends, imported by the worker only).
"""

from ._batch_ids import batch_job_id, parent_job_id
from ._catalog import CATALOG, JobSpec, spec_for_job, spec_for_kind, spec_for_name
from ._context import FailedJob, JobContext
from ._filters import FilterFields
from ._job_control import JobCancelled, JobControl, JobPaused, JobWaiting, NoControl
from ._kinds import Job, JobResult, job_adapter, result_adapter
from ._limits import JobLimits, JobRejectedError
from ._models import CopyJob, DeleteJob, JobModel, UploadJob
from ._prefix_models import (
    DeletePrefixBatchJob,
    DeletePrefixJob,
    Manifest,
    MigrateBatchJob,
    MigrateJob,
    ObjectRef,
    VerifyBatchJob,
    VerifyJob,
)
from ._prefix_progress import MigrationProgress
from ._prefix_results import BatchResult, DeletePrefixResult, MigrateResult, VerifyResult
from ._report import ReportLine
from ._results import CopyResult, DeleteFailure, DeleteResult, LostAttribute, UploadResult
from ._retry import RETRYABLE_CODES, RetryBudget, RetryPolicy, is_retryable, is_retryable_code
from ._state import DeleteState, JobState, ProgressStore
from ._write_options import (
    CannedAcl,
    MigrateWriteOptions,
    PreserveOption,
    ServerSideEncryption,
    StorageClassName,
    WriteOptions,
)

__all__ = [
    "CATALOG",
    "RETRYABLE_CODES",
    "BatchResult",
    "CannedAcl",
    "CopyJob",
    "CopyResult",
    "DeleteFailure",
    "DeleteJob",
    "DeletePrefixBatchJob",
    "DeletePrefixJob",
    "DeletePrefixResult",
    "DeleteResult",
    "DeleteState",
    "FailedJob",
    "FilterFields",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobControl",
    "JobLimits",
    "JobModel",
    "JobPaused",
    "JobRejectedError",
    "JobResult",
    "JobSpec",
    "JobState",
    "JobWaiting",
    "LostAttribute",
    "Manifest",
    "MigrateBatchJob",
    "MigrateJob",
    "MigrateResult",
    "MigrateWriteOptions",
    "MigrationProgress",
    "NoControl",
    "ObjectRef",
    "PreserveOption",
    "ProgressStore",
    "ReportLine",
    "RetryBudget",
    "RetryPolicy",
    "ServerSideEncryption",
    "StorageClassName",
    "UploadJob",
    "UploadResult",
    "VerifyBatchJob",
    "VerifyJob",
    "VerifyResult",
    "WriteOptions",
    "batch_job_id",
    "is_retryable",
    "is_retryable_code",
    "job_adapter",
    "parent_job_id",
    "result_adapter",
    "spec_for_job",
    "spec_for_kind",
    "spec_for_name",
]
