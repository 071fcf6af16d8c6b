"""Wiring: Settings -> a running StorageWorker with one pooled storage client."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import structlog
from arq.worker import func

from ..errors import UnsafeRedisError
from ..jobs import CATALOG
from ..metrics import MetricsServer, WorkerMetrics
from ..queue import RedisRateLimiter, decode, encode, read_eviction_policy
from ..settings import Settings
from ..storage import StorageClient
from ._redis_settings import arq_redis_settings
from ._runtime import WorkerRuntime
from ._worker import StorageWorker

__all__ = ["build_worker", "worker_settings"]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Arq ``Worker`` keyword arguments for these settings.

    Also what ``arq storage_jobs.worker.WorkerSettings`` runs; plain arq then lacks the leases,
    supervision and per-worker heartbeats of ``storage-jobs worker``.
    """
    log = structlog.get_logger("storage_jobs.worker")
    budget = settings.retry_budget()
    holder: dict[str, WorkerRuntime] = {}
    servers: list[MetricsServer] = []

    def function_for(spec: Any) -> Any:
        async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
            runtime: WorkerRuntime = ctx["storage_jobs"]
            return await runtime.execute(spec, ctx, args, kwargs)

        # arq's own retries count crashes too; ours stop at max_tries, arq one later.
        return func(run, name=spec.function_name, max_tries=budget.crash_attempts)

    async def on_startup(ctx: dict[str, Any]) -> None:
        # On every start: an evicting Redis drops queued jobs and leases without an error.
        policy = await read_eviction_policy(ctx["redis"], declared=settings.redis_maxmemory_policy)
        if (problem := policy.problem()) is not None:
            log.error(
                "redis.eviction_policy",
                policy=policy.policy,
                source=policy.source,
                reason=policy.reason,
                message=problem,
                required=settings.require_noeviction,
            )
            if settings.require_noeviction:
                raise UnsafeRedisError(
                    policy.policy,
                    f"{problem}; STORAGE_JOBS_REQUIRE_NOEVICTION is set: not starting",
                )
        metrics = None
        if settings.metrics_port is not None:
            metrics = WorkerMetrics()
            servers.append(metrics.serve(settings.metrics_port))
            log.info("metrics.listening", port=servers[-1].port, path="/metrics")
        limiter = None
        if limits := settings.rate_limits():
            # One schedule per bucket in Redis, shared by every worker of the queue.
            limiter = RedisRateLimiter(
                ctx["redis"],
                settings.queue_name,
                limits,
                on_wait=metrics.s3_rate_limited if metrics is not None else None,
                peer_max_age=settings.health_check_interval * 3,
            )
        storage = StorageClient(settings.storage_config(), limiter=limiter)
        await storage.connect()
        runtime = WorkerRuntime(
            settings=settings, storage=storage, redis=ctx["redis"], log=log, metrics=metrics
        )
        holder["runtime"] = ctx["storage_jobs"] = runtime
        log.info(
            "worker.started",
            queue=settings.queue_name,
            redis=settings.redis_url_redacted,
            s3_endpoint=settings.s3_endpoint_url,
            max_jobs=settings.max_jobs,
            pool=storage.config.max_pool_connections,
            s3_rate_limits=dict(settings.s3_rate_limits) or None,
            eviction_policy=policy.policy,
            event_loop=type(asyncio.get_running_loop()).__module__.split(".")[0],
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        runtime = holder.pop("runtime", None)
        if runtime is not None:
            await runtime.close()
        while servers:
            servers.pop().stop()
        log.info("worker.stopped", queue=settings.queue_name)

    return {
        "functions": [function_for(spec) for spec in CATALOG],
        "queue_name": settings.queue_name,
        "redis_settings": arq_redis_settings(settings),
        "max_jobs": settings.max_jobs,
        "job_timeout": settings.job_timeout,
        "keep_result": settings.result_ttl,
        "max_tries": budget.crash_attempts,
        "health_check_interval": settings.health_check_interval,
        # The fallback poll; new jobs wake an idle worker at once through the wake list.
        "poll_delay": 1.0,
        "job_completion_wait": math.ceil(settings.shutdown_grace),
        "job_serializer": encode,
        "job_deserializer": decode,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "expires_extra_ms": int(settings.result_ttl * 1000),
    }


def build_worker(settings: Settings) -> StorageWorker:
    """The worker ``storage-jobs worker`` runs."""
    return StorageWorker(
        **worker_settings(settings),
        lease_seconds=settings.lease_seconds,
        reserved_slots=settings.reserved_slots,
        idle_wait_max=settings.idle_wait_max,
        log=structlog.get_logger("storage_jobs.worker"),
    )
