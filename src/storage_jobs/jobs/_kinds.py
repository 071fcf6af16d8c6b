"""Every job kind and result kind, as discriminated unions."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from ._models import CopyJob, DeleteJob, UploadJob
from ._prefix_models import (
    DeletePrefixBatchJob,
    DeletePrefixJob,
    MigrateBatchJob,
    MigrateJob,
    VerifyBatchJob,
    VerifyJob,
)
from ._prefix_results import BatchResult, DeletePrefixResult, MigrateResult, VerifyResult
from ._results import CopyResult, DeleteResult, UploadResult

__all__ = ["AnyJob", "AnyResult", "Job", "JobResult", "job_adapter", "result_adapter"]

AnyJob = (
    UploadJob
    | CopyJob
    | DeleteJob
    | MigrateJob
    | DeletePrefixJob
    | MigrateBatchJob
    | DeletePrefixBatchJob
    | VerifyJob
    | VerifyBatchJob
)
Job = Annotated[AnyJob, Field(discriminator="kind")]
"""Any job payload, told apart by its ``kind``."""

job_adapter: TypeAdapter[AnyJob] = TypeAdapter(Job)
"""Validates a payload of any kind (``job_adapter.validate_json(raw)``)."""

AnyResult = (
    UploadResult
    | CopyResult
    | DeleteResult
    | MigrateResult
    | DeletePrefixResult
    | BatchResult
    | VerifyResult
)
JobResult = Annotated[AnyResult, Field(discriminator="kind")]
"""Any job result, told apart by its ``kind``."""

result_adapter: TypeAdapter[AnyResult] = TypeAdapter(JobResult)
