"""The plain-arq compatibility mode: ``arq storage_jobs.worker.WorkerSettings``.

arq's own ``Worker`` runs the catalog's functions through the same runtime as
``storage-jobs worker``; it lacks our loop's leases, lanes other than ``normal``, batched claims
and finishes, supervision of Redis outages and per-worker heartbeats (docs/deployment.md,
"Running workers").
Nothing here is used by ``storage-jobs worker``.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import structlog
from arq.worker import Retry, func

from ..jobs import CATALOG, JobPaused, JobSpec, JobWaiting
from ..queue import Queue, decode, encode
from ..settings import Settings
from ._redis_settings import arq_redis_settings
from ._runtime import WorkerRuntime
from ._startup import Started, start_runtime

__all__ = ["worker_settings"]

_PAUSED_POLL_S = 1.0


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Arq ``Worker`` keyword arguments for these settings (what plain arq runs)."""
    log = structlog.get_logger("storage_jobs.worker")
    budget = settings.retry_budget()
    holder: dict[str, Started] = {}

    def function_for(spec: JobSpec) -> Any:
        async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
            runtime: WorkerRuntime = ctx["storage_jobs"]
            while True:
                try:
                    return await runtime.execute(spec, ctx, args, kwargs)
                except JobWaiting as exc:
                    # arq's retry defers it (counted as an attempt: long waits need our worker).
                    raise Retry(defer=exc.delay_s) from None
                except JobPaused:
                    # arq cannot park a batch: it waits here, holding its slot, and its re-run
                    # skips what it recorded (a cancel meanwhile stops that re-run at once).
                    control = runtime.queue.job_control(ctx["job_id"])
                    while await control.paused():
                        if await control.cancelled():
                            break
                        await asyncio.sleep(_PAUSED_POLL_S)

        # arq's own retries count crashes too; ours stop at max_tries, arq one later.
        return func(run, name=spec.function_name, max_tries=budget.crash_attempts)

    async def on_startup(ctx: dict[str, Any]) -> None:
        # arq's pool, under the one ``Queue`` every job of the process goes through.
        queue = Queue(ctx["redis"], settings.queue_name, result_ttl=settings.result_ttl)
        started = await start_runtime(settings, queue, log)
        holder["started"] = started
        ctx["storage_jobs"] = started.runtime

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        started = holder.pop("started", None)
        if started is not None:
            await started.stop(log)

    return {
        "functions": [function_for(spec) for spec in CATALOG],
        "queue_name": settings.queue_name,
        "redis_settings": arq_redis_settings(settings),
        "max_jobs": settings.max_jobs,
        "job_timeout": settings.job_timeout,
        "keep_result": settings.result_ttl,
        "max_tries": budget.crash_attempts,
        "health_check_interval": settings.health_check_interval,
        "poll_delay": 1.0,
        "job_completion_wait": math.ceil(settings.shutdown_grace),
        "job_serializer": encode,
        "job_deserializer": decode,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "expires_extra_ms": int(settings.result_ttl * 1000),
    }
