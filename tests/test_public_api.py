"""The public API: exactly these names are exported; changing them must edit this test."""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, list[str]] = {
    "storage_jobs": [
        "__version__",
    ],
    "storage_jobs.errors": [
        "JobFailedError",
        "JobRejectedError",
        "QueueFullError",
        "QueueUnavailableError",
        "ReplayRefusedError",
        "StorageJobsError",
        "UnsafeRedisError",
    ],
    "storage_jobs.storage": [
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
    ],
    "storage_jobs.jobs": [
        "CATALOG",
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
        "DeleteState",
        "FailedJob",
        "Job",
        "JobContext",
        "JobLimits",
        "JobModel",
        "JobRejectedError",
        "JobResult",
        "JobSpec",
        "JobState",
        "MigrateBatchJob",
        "MigrateJob",
        "MigrateResult",
        "MigrationProgress",
        "ObjectRef",
        "ProgressStore",
        "ReportLine",
        "RetryBudget",
        "RetryPolicy",
        "UploadJob",
        "UploadResult",
        "is_retryable",
        "is_retryable_code",
        "job_adapter",
        "result_adapter",
        "spec_for_job",
        "spec_for_kind",
        "spec_for_name",
    ],
    "storage_jobs.queue": [
        "IN_PROGRESS_LIMIT",
        "KIND_SAMPLE",
        "MAX_KEPT_PAYLOAD",
        "NOEVICTION",
        "UNREADABLE_KIND",
        "DeadLetter",
        "DeadLetterStore",
        "Enqueuer",
        "Envelope",
        "ErrorRecord",
        "EvictionPolicy",
        "Heartbeat",
        "JobFailure",
        "JobStatus",
        "NewJob",
        "QueueDepth",
        "QueueInfo",
        "QueueKeys",
        "RedisJobState",
        "RedisProgressStore",
        "RedisTarget",
        "ResultRecord",
        "WorkerInfo",
        "build_envelope",
        "connect_redis",
        "decode",
        "describe_validation_error",
        "encode",
        "error_record",
        "is_redis_full",
        "job_kinds",
        "lease_holder",
        "live_workers",
        "parse_envelope",
        "parse_result",
        "peek_function",
        "queue_depth",
        "queue_info",
        "read_eviction_policy",
        "read_heartbeats",
        "read_outcome",
        "read_status",
        "redis_password",
        "redis_said",
        "remove_heartbeat",
        "state_key",
        "write_heartbeat",
    ],
    "storage_jobs.client": [
        "JobFailedError",
        "JobHandle",
        "JobStatus",
        "StorageJobsClient",
        "SyncJobHandle",
        "SyncStorageJobsClient",
    ],
    "storage_jobs.worker": [
        "HANDLERS",
        "JobFailure",
        "StorageWorker",
        "WorkerRuntime",
        "arq_redis_settings",
        "build_worker",
        "decode",
        "encode",
        "worker_settings",
    ],
}


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exports_are_exactly_the_public_names(module: str) -> None:
    """``__all__`` is exactly the agreed list (add or remove names here on purpose)."""
    assert importlib.import_module(module).__all__ == PUBLIC[module]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_export_is_importable(module: str) -> None:
    """Each name in ``__all__`` exists, and star-import brings exactly those names."""
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"
    namespace: dict[str, object] = {}
    exec(f"from {module} import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(mod.__all__)


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_exports_are_sorted(module: str) -> None:
    """``__all__`` is sorted (isort style, as ruff's RUF022 keeps it) and free of duplicates."""
    names = importlib.import_module(module).__all__
    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
