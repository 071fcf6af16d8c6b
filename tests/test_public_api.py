"""The public API: exactly these names are exported; changing them must edit this test."""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, list[str]] = {
    "storage_jobs": [
        "__version__",
    ],
    "storage_jobs.errors": [
        "FailureThresholdError",
        "JobCancelledError",
        "JobFailedError",
        "JobRejectedError",
        "QueueFullError",
        "QueueUnavailableError",
        "ReplayRefusedError",
        "StorageJobsError",
        "TooManyDeletesError",
        "UnsafeRedisError",
    ],
    "storage_jobs.storage": [
        "DELETE_BATCH_SIZE",
        "BatchedRateLimiter",
        "LocalRateLimiter",
        "ObjectInfo",
        "RateLimits",
        "RequestLimiter",
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
        "FilterFields",
        "Job",
        "JobCancelled",
        "JobContext",
        "JobControl",
        "JobLimits",
        "JobModel",
        "JobRejectedError",
        "JobResult",
        "JobSpec",
        "JobState",
        "Manifest",
        "MigrateBatchJob",
        "MigrateJob",
        "MigrateResult",
        "MigrationProgress",
        "NoControl",
        "ObjectRef",
        "ProgressStore",
        "ReportLine",
        "RetryBudget",
        "RetryPolicy",
        "UploadJob",
        "UploadResult",
        "VerifyBatchJob",
        "VerifyJob",
        "VerifyResult",
        "batch_job_id",
        "is_retryable",
        "is_retryable_code",
        "job_adapter",
        "parent_job_id",
        "result_adapter",
        "spec_for_job",
        "spec_for_kind",
        "spec_for_name",
    ],
    "storage_jobs.queue": [
        "CANCELLED",
        "CANCEL_MESSAGE",
        "FINISHED_KEPT",
        "HISTORY_TTL",
        "IDLE_WAIT_MAX_S",
        "IN_PROGRESS_LIMIT",
        "KIND_SAMPLE",
        "LANES",
        "LEASES_CHECKED",
        "MAX_KEPT_PAYLOAD",
        "NOEVICTION",
        "PAUSABLE_KINDS",
        "PREFIX_JOBS_KEPT",
        "STATE_PREFIX",
        "UNREADABLE_KIND",
        "WAKE_LUA",
        "Control",
        "DeadLetter",
        "DeadLetterStore",
        "Enqueuer",
        "Envelope",
        "ErrorRecord",
        "EvictionPolicy",
        "Heartbeat",
        "JobFailure",
        "JobRecord",
        "JobStatus",
        "ListedState",
        "MinuteCounts",
        "NewJob",
        "Outcome",
        "Priority",
        "QueueDepth",
        "QueueInfo",
        "QueueKeys",
        "RedisJobControl",
        "RedisJobState",
        "RedisProgressStore",
        "RedisRateLimiter",
        "RedisTarget",
        "ResultRecord",
        "ResultWaiter",
        "WorkerInfo",
        "build_envelope",
        "build_result",
        "check_priority",
        "connect_redis",
        "control_keys",
        "decode",
        "describe_validation_error",
        "encode",
        "error_record",
        "finish_cancelled",
        "finished_index",
        "history_field",
        "idle_wait",
        "index_prefix_job",
        "is_redis_full",
        "job_kinds",
        "lease_holder",
        "list_ids",
        "live_workers",
        "parse_envelope",
        "parse_result",
        "peek_function",
        "peek_functions",
        "peek_priority",
        "prefix_job_ids",
        "push_wake",
        "queue_depth",
        "queue_info",
        "read_eviction_policy",
        "read_heartbeats",
        "read_history",
        "read_job",
        "read_outcome",
        "read_status",
        "record_outcome",
        "redis_password",
        "redis_said",
        "remove_heartbeat",
        "state_key",
        "wait_for_wake",
        "write_heartbeat",
    ],
    "storage_jobs.client": [
        "JobCancelledError",
        "JobFailedError",
        "JobHandle",
        "JobStatus",
        "Priority",
        "StorageJobsClient",
        "SyncJobHandle",
        "SyncStorageJobsClient",
    ],
    "storage_jobs.dashboard": [
        "ActionResult",
        "DeadLetterDetail",
        "DeadLetterPage",
        "DeadLetterRow",
        "FailedKey",
        "FinishedCounts",
        "JobDetail",
        "JobPage",
        "JobRow",
        "Overview",
        "PrefixJobPage",
        "PrefixJobProgress",
        "QueueCounts",
        "QueueOverview",
        "WorkerRow",
        "WorkersPage",
        "create_app",
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
