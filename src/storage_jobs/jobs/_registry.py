"""The one registry: job model <-> function name <-> handler <-> result model.

Producers read it to name what they enqueue, workers to find what to run, so the two can't drift.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ._context import JobContext
from ._copy import run_copy
from ._delete import run_delete
from ._delete_prefix import run_delete_prefix, run_delete_prefix_batch
from ._migrate import run_migrate, run_migrate_batch
from ._models import CopyJob, DeleteJob, JobModel, UploadJob
from ._prefix_models import DeletePrefixBatchJob, DeletePrefixJob, MigrateBatchJob, MigrateJob
from ._prefix_results import BatchResult, DeletePrefixResult, MigrateResult
from ._results import CopyResult, DeleteResult, UploadResult
from ._upload import run_upload

__all__ = ["REGISTRY", "JobSpec", "spec_for_job", "spec_for_name"]

Handler = Callable[[Any, JobContext], Awaitable[BaseModel]]


@dataclass(frozen=True)
class JobSpec:
    """How one kind of job is named, run and answered.

    Attributes:
        kind: The payload's ``kind`` discriminator.
        function_name: The name on the queue.
        model: The payload model.
        result_model: The result model.
        handler: ``async (job, ctx) -> result``.
    """

    kind: str
    function_name: str
    model: type[JobModel]
    result_model: type[BaseModel]
    handler: Handler


REGISTRY: tuple[JobSpec, ...] = (
    JobSpec("upload", "storage_jobs.upload", UploadJob, UploadResult, run_upload),
    JobSpec("copy", "storage_jobs.copy", CopyJob, CopyResult, run_copy),
    JobSpec("delete", "storage_jobs.delete", DeleteJob, DeleteResult, run_delete),
    JobSpec("migrate", "storage_jobs.migrate", MigrateJob, MigrateResult, run_migrate),
    JobSpec(
        "delete_prefix",
        "storage_jobs.delete_prefix",
        DeletePrefixJob,
        DeletePrefixResult,
        run_delete_prefix,
    ),
    JobSpec(
        "migrate_batch",
        "storage_jobs.migrate_batch",
        MigrateBatchJob,
        BatchResult,
        run_migrate_batch,
    ),
    JobSpec(
        "delete_prefix_batch",
        "storage_jobs.delete_prefix_batch",
        DeletePrefixBatchJob,
        BatchResult,
        run_delete_prefix_batch,
    ),
)

_BY_MODEL = {spec.model: spec for spec in REGISTRY}
_BY_NAME = {spec.function_name: spec for spec in REGISTRY}


def spec_for_job(job: BaseModel) -> JobSpec:
    """The spec of a job instance.

    Raises:
        TypeError: If the object is not a registered job model.
    """
    try:
        return _BY_MODEL[type(job)]  # type: ignore[index]
    except KeyError:
        raise TypeError(f"not a storage job: {type(job).__name__}") from None


def spec_for_name(function_name: str) -> JobSpec | None:
    """The spec registered under a queue function name, if any."""
    return _BY_NAME.get(function_name)
