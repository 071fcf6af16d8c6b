"""The job catalog: kind <-> queue function name <-> payload model <-> result model.

Producers read it to name what they enqueue and to type what they read back; the worker pairs
each entry with its handler (``storage_jobs.worker``), so importing the catalog loads no S3 stack.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from ._models import CopyJob, DeleteJob, JobModel, UploadJob
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

__all__ = ["CATALOG", "JobSpec", "spec_for_job", "spec_for_kind", "spec_for_name"]


@dataclass(frozen=True)
class JobSpec:
    """How one kind of job is named and answered.

    Attributes:
        kind: The payload's ``kind`` discriminator.
        function_name: The name on the queue.
        model: The payload model.
        result_model: The result model.
        internal: A batch a prefix job enqueues for itself; producers outside the Redis trust
            domain (the HTTP enqueue API) may not enqueue it.
    """

    kind: str
    function_name: str
    model: type[JobModel]
    result_model: type[BaseModel]
    internal: bool = False


CATALOG: tuple[JobSpec, ...] = (
    JobSpec("upload", "storage_jobs.upload", UploadJob, UploadResult),
    JobSpec("copy", "storage_jobs.copy", CopyJob, CopyResult),
    JobSpec("delete", "storage_jobs.delete", DeleteJob, DeleteResult),
    JobSpec("migrate", "storage_jobs.migrate", MigrateJob, MigrateResult),
    JobSpec("delete_prefix", "storage_jobs.delete_prefix", DeletePrefixJob, DeletePrefixResult),
    JobSpec(
        "migrate_batch", "storage_jobs.migrate_batch", MigrateBatchJob, BatchResult, internal=True
    ),
    JobSpec(
        "delete_prefix_batch",
        "storage_jobs.delete_prefix_batch",
        DeletePrefixBatchJob,
        BatchResult,
        internal=True,
    ),
    JobSpec("verify", "storage_jobs.verify", VerifyJob, VerifyResult),
    JobSpec(
        "verify_batch", "storage_jobs.verify_batch", VerifyBatchJob, BatchResult, internal=True
    ),
)

_BY_MODEL = {spec.model: spec for spec in CATALOG}
_BY_NAME = {spec.function_name: spec for spec in CATALOG}
_BY_KIND = {spec.kind: spec for spec in CATALOG}


def spec_for_job(job: BaseModel) -> JobSpec:
    """The spec of a job instance.

    Raises:
        TypeError: If the object is not a catalogued job model.
    """
    try:
        return _BY_MODEL[type(job)]  # type: ignore[index]
    except KeyError:
        raise TypeError(f"not a storage job: {type(job).__name__}") from None


def spec_for_name(function_name: str) -> JobSpec | None:
    """The spec catalogued under a queue function name, if any."""
    return _BY_NAME.get(function_name)


def spec_for_kind(kind: str) -> JobSpec | None:
    """The spec of a payload ``kind``, if any."""
    return _BY_KIND.get(kind)
