"""The worker's settings: concurrency, timeouts, retries, logs and metrics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..jobs._retry import DEFAULT_MAX_REQUESTS_PER_KEY

__all__ = ["WorkerFields"]


class WorkerFields(BaseModel):
    """``Settings``' fields for the worker."""

    # The worker
    max_jobs: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Jobs a worker runs at once (its S3 connection pool is sized from it).",
    )
    # Free slots bulk jobs (prefix jobs' batches) leave to high and normal work, which then starts
    # at once; one bulk job may run whatever this says.
    reserved_slots: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="Free slots of each worker that bulk jobs (prefix jobs' batches) leave to "
        "`high` and `normal` jobs, so those start without waiting for a batch to end; one "
        "bulk job may run whatever this says (`0`: no reserve).",
    )
    # Seconds an idle worker blocks on the wake list at most: what a job written without a wake
    # token (a plain arq producer's) waits; lower costs Redis one claim per wait.
    idle_wait_max: float = Field(
        default=5.0,
        ge=0.1,
        le=60,
        description="Seconds an idle worker blocks on the wake list at most before it claims "
        "again (it wakes at once for every enqueued job): what a job written without a wake "
        "token, by a plain arq producer, waits. Lower costs Redis about 8 commands per wait.",
    )
    job_timeout: float = Field(
        default=3600.0, gt=0, description="Seconds a job may run before it is cancelled."
    )
    lease_seconds: float = Field(
        default=30.0,
        ge=2,
        description="The lease a worker renews while it runs a job; when a worker dies, "
        "another takes its jobs once their leases lapse.",
    )
    shutdown_grace: float = Field(
        default=25.0,
        ge=0,
        description="Seconds running jobs get after SIGTERM; what still runs then goes back "
        "on the queue.",
    )
    max_tries: int = Field(
        default=5, ge=1, le=100, description="Attempts per job for transient failures."
    )
    retry_base_delay: float = Field(
        default=1.0, ge=0, description="First backoff (seconds) before a job's retry."
    )
    retry_max_delay: float = Field(
        default=60.0, ge=0, description="Longest backoff (seconds) between a job's retries."
    )
    delete_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Attempts per key in a bulk delete."
    )
    migrate_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Copy attempts per object in a migration batch (an attempt is a HEAD and "
        "a copy, at least).",
    )
    max_requests_per_key: int = Field(
        default=DEFAULT_MAX_REQUESTS_PER_KEY,
        ge=1,
        description="Settings whose retries could cost one key more S3 requests than this "
        "(`S3_MAX_ATTEMPTS` x per-key attempts x (`MAX_TRIES` + 1)) are refused.",
    )
    result_ttl: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Seconds results are kept (a queued job's payload lives at least 7 days, "
        "however low this is, so a backlog shorter than that never expires a job).",
    )
    health_check_interval: float = Field(
        default=5.0, gt=0, description="Seconds between a worker's heartbeats."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus endpoint (`0`: any free port; unset: off).",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="`json`, `console`, or `auto` (JSON when not writing to a terminal).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log lines written."
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans (the ``otel`` extra): each enqueue, each job's run as "
        "the enqueue's child, each S3 request as the job's child. Off: nothing is imported.",
    )
