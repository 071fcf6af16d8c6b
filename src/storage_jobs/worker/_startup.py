"""A worker process's start and stop: Redis checks, metrics, rate limiter, storage client.

Both ways of running jobs start here: ``storage-jobs worker`` (``_loop``) and plain arq
(``_compat``), so both refuse an evicting Redis the same way and share one runtime per process.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UnsafeRedisError
from ..metrics import MetricsServer, WorkerMetrics
from ..storage import StorageClient
from ._runtime import WorkerRuntime

if TYPE_CHECKING:
    from ..queue import Queue
    from ..settings import Settings

__all__ = ["Started", "start_runtime"]


@dataclass(frozen=True)
class Started:
    """What a started worker process holds until it stops.

    Attributes:
        runtime: What every job of the process shares (storage client, metrics, ...).
        server: The metrics endpoint, when a port is configured.
    """

    runtime: WorkerRuntime
    server: MetricsServer | None

    async def stop(self, log: Any) -> None:
        """Closes the storage clients and the metrics endpoint."""
        try:
            await self.runtime.close()
        finally:
            if self.server is not None:
                self.server.stop()
            log.info("worker.stopped", queue=self.runtime.settings.queue_name)


async def start_runtime(settings: Settings, queue: Queue, log: Any) -> Started:
    """Checks Redis, starts metrics, opens the storage client and logs ``worker.started``.

    Raises:
        UnsafeRedisError: If Redis may evict keys and ``STORAGE_JOBS_REQUIRE_NOEVICTION`` is set.
    """
    # On every start: an evicting Redis drops queued jobs and leases without an error.
    policy = await queue.eviction_policy(declared=settings.redis_maxmemory_policy)
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
                policy.policy, f"{problem}; STORAGE_JOBS_REQUIRE_NOEVICTION is set: not starting"
            )
    metrics, server = None, None
    if settings.metrics_port is not None:
        metrics = WorkerMetrics()
        server = metrics.serve(settings.metrics_port)
        log.info("metrics.listening", port=server.port, path="/metrics")
    limiter = None
    if limits := settings.rate_limits():
        # One schedule per bucket in Redis, shared by every worker of the queue.
        limiter = queue.rate_limiter(
            limits,
            on_wait=metrics.s3_rate_limited if metrics is not None else None,
            peer_max_age=settings.health_check_interval * 3,
        )
    storage = StorageClient(settings.storage_config(), limiter=limiter)
    try:
        await storage.connect()
    except BaseException:
        if server is not None:
            server.stop()
        raise
    runtime = WorkerRuntime(
        settings=settings, storage=storage, queue=queue, log=log, metrics=metrics
    )
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
    return Started(runtime, server)
