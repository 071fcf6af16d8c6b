"""What a worker keeps up beside its claim loop (``_loop``).

Its connection and start-up, lease renewal, heartbeats, Redis supervision, the queue gauges and
the queue-paused notes.

Leases and heartbeats get a task of their own: the loop may wait on a full worker's slots or a
blocked wake list, and a busy worker must neither lose its jobs' leases nor look dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from arq.constants import health_check_key_suffix
from redis.exceptions import ClusterError, RedisClusterException, RedisError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..jobs import spec_for_name
from ..queue import (
    LEASES_CHECKED,
    Queue,
    check_shard_count,
    open_queue,
    queue_on,
    redis_said,
)
from ..settings import Settings
from ._execution import Execution
from ._finisher import Finisher
from ._heartbeats import Heartbeats
from ._startup import Started, start_runtime
from ._ticks import Ticker
from ._webhooks import start_webhooks

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..metrics import WorkerMetrics

__all__ = ["REDIS_DOWN", "Housekeeping"]

REDIS_DOWN = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    OSError,
    ClusterError,  # a cluster without a master for some slots (CLUSTERDOWN, MASTERDOWN)
    TryAgainError,  # a slot moving or an election under way
    RedisClusterException,  # redis-py's cluster client gave up on its retries
)
"""The errors that mean Redis cannot be reached (the worker backs off and carries on)."""

_QUEUE_GAUGE_INTERVAL = 5.0  # seconds between refreshes of the queue gauges
_CLOSE_TIMEOUT_S = 5.0  # removing the heartbeat at exit: not worth waiting out an outage for


class Housekeeping:
    """A worker's state and upkeep; ``StorageWorker`` adds the claim loop."""

    tasks: dict[str, asyncio.Task[None]]

    def __init__(self, settings: Settings, log: Any) -> None:
        self.settings = settings
        self.queue_name = settings.queue_name
        self.max_jobs = settings.max_jobs
        self.lease_seconds = settings.lease_seconds
        self.health_check_interval = settings.health_check_interval
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.log = log
        self.ctx: dict[str, Any] = {}  # what every job's ctx starts from
        self._pool: Redis | None = None
        self._queue: Queue | None = None
        self.finisher = Finisher(lambda: self.queue, on_retry=self._write_retry)
        self.heartbeats = Heartbeats(self.worker_id, self.health_check_interval, self.max_jobs)
        self.execution = Execution(
            settings,
            queue=lambda: self.queue,
            finisher=self.finisher,
            ctx=self.ctx,
            event=self._event,
            metrics=self._metrics,
        )
        self._started: Started | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self.ticker = Ticker(lambda: self.queue, self._event)
        self._ticks: asyncio.Task[None] | None = None  # the schedules' check (``_ticks``)
        self._webhooks: asyncio.Task[Any] | None = None  # delivering events (``_webhooks``)
        self._last_renewal = 0.0
        self._redis_down_since: float | None = None
        self._last_queue_gauges = 0.0
        self._queue_paused: bool | None = None

    @property
    def pool(self) -> Redis:
        """The worker's Redis connection (set once ``main`` has connected)."""
        assert self._pool is not None, "not connected"
        return self._pool

    @property
    def queue(self) -> Queue:
        """The worker's ``Queue`` on its connection: the only way the worker reaches Redis.

        Built when it connects (``open_queue``: one server or a cluster, its shard count
        checked); it claims with the worker's leases.
        """
        if self._queue is None:  # a connection handed in (``_pool`` set) rather than opened
            self._queue = queue_on(
                self.pool, self.settings, worker_id=self.worker_id, lease_seconds=self.lease_seconds
            )
        return self._queue

    async def _connect(self, stop: asyncio.Event) -> None:
        """Connects, waiting out a Redis that is down (``redis.unavailable`` once)."""
        while self._pool is None and not stop.is_set():
            queue = await open_queue(
                self.settings, worker_id=self.worker_id, check=False, socket_connect_timeout=2
            )
            try:
                await queue.redis.ping()
                await check_shard_count(queue.redis, self.queue_name, self.settings.queue_shards)
            except REDIS_DOWN as exc:
                await queue.redis.aclose()
                self._mark_redis_down(exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._backoff())
            except BaseException:
                await queue.redis.aclose()
                raise
            else:
                self._pool, self._queue = queue.redis, queue

    async def _start(self) -> None:
        """The start-up checks and runtime (``_startup``), then the housekeeping task."""
        self.ctx["redis"] = self.pool
        self._started = await start_runtime(self.settings, self.queue, self.log)
        self.ctx["storage_jobs"] = self._started.runtime
        if (metrics := self._metrics()) is not None:
            metrics.set_worker(self.worker_id, self.queue_name)
            metrics.set_redis_up(True)
        self._housekeeper = asyncio.create_task(self._housekeeping())
        self._ticks = asyncio.create_task(self.ticker.run())
        self._webhooks = start_webhooks(
            self.settings, self.queue, self.worker_id, self._event, self._metrics()
        )

    async def _close_housekeeping(self) -> None:
        """Stops the housekeeping, ticks and webhooks, removes the heartbeat, closes the rest."""
        for task in (self._housekeeper, self._ticks, self._webhooks):
            if task is not None:
                task.cancel()
                await asyncio.wait([task])
        self._housekeeper = self._ticks = self._webhooks = None
        if self._pool is None:
            return
        with contextlib.suppress(RedisError, *REDIS_DOWN):
            await asyncio.wait_for(self.heartbeats.stop(self.queue), _CLOSE_TIMEOUT_S)
        started, self._started = self._started, None
        try:
            if started is not None:
                await started.stop(self.log)
        finally:
            await self._pool.aclose()
            self._pool = self._queue = None

    # -- leases and heartbeats -------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        interval = min(self.lease_seconds / 4, self.health_check_interval)
        while True:
            started = time.monotonic()
            try:
                renewed = await self._renew_leases()
                beat = await self.record_health()
            except REDIS_DOWN as exc:
                # A full worker claims nothing: its housekeeping may be the first to see.
                self._mark_redis_down(exc)
                self._event("warning", "housekeeping.redis_error", error=type(exc).__name__)
            except Exception as exc:
                said = redis_said(exc) if isinstance(exc, RedisError) else str(exc)
                self._event("error", "housekeeping.failed", error=f"{type(exc).__name__}: {said}")
            else:
                if renewed or beat:
                    self._redis_answered()
            await asyncio.sleep(interval)
            if (lag := time.monotonic() - started - interval) > self.lease_seconds / 4:
                # This late, leases may lapse: the loop is blocked, the CPU starved or Redis slow.
                self._event("warning", "housekeeping.late", lag_s=round(lag, 3))

    async def _renew_leases(self) -> bool:
        """Renews the running jobs' leases when due; True if Redis was asked."""
        now = time.monotonic()
        if now - self._last_renewal < self.lease_seconds / 4:
            return False
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        for job_id in await self.queue.renew(running, int(time.time() * 1000)):
            self._event("warning", "lease.lost", job_id=job_id)
            self.execution.cancel(job_id)
        self._last_renewal = now
        return bool(running)

    async def record_health(self) -> bool:
        """Writes this worker's own heartbeat (and arq's per-queue health key) when due.

        Returns:
            Whether it was due (and written).
        """
        if not self.heartbeats.due(time.time()):
            return False
        await self.heartbeats.beat(
            self.queue,
            complete=self.execution.complete,
            failed=self.execution.failed,
            retried=self.execution.retried,
            ongoing=len(self.tasks),
            arq_health_key=self.queue_name + health_check_key_suffix,
        )
        return True

    # -- Redis supervision -----------------------------------------------------------------------

    async def _redis_unavailable(self, exc: BaseException) -> None:
        """Says Redis is gone (once per outage) and backs off; running jobs carry on."""
        self._mark_redis_down(exc)
        await asyncio.sleep(self._backoff())

    def _backoff(self) -> float:
        # Up to 2 s; running jobs' leases are renewed on recovery.
        since = self._redis_down_since
        return min(2.0, 0.1 + (time.monotonic() - since) / 5) if since is not None else 0.1

    def _mark_redis_down(self, exc: BaseException) -> None:
        """Says once per outage that Redis is gone (the next good poll says it is back)."""
        if (metrics := self._metrics()) is not None:
            metrics.set_redis_up(False)
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            self._event("warning", "redis.unavailable", error=f"{type(exc).__name__}: {exc}")

    def _redis_answered(self) -> None:
        if self._redis_down_since is not None:
            outage = round(time.monotonic() - self._redis_down_since, 2)
            self._event("info", "redis.recovered", outage_s=outage)
            self._redis_down_since = None

    def _write_retry(self, exc: BaseException, jobs: int, delay: float) -> None:
        # A worker whose every slot waits on a result write polls nothing meanwhile: its
        # finisher is then the first to see Redis go.
        if isinstance(exc, REDIS_DOWN):
            self._mark_redis_down(exc)
        self._event(
            "warning",
            "result.write_retry",
            jobs=jobs,
            delay_s=round(delay, 3),
            error=type(exc).__name__,
        )

    # -- operator control and metrics ------------------------------------------------------------

    async def _finish_cancelled(self, job_id: str) -> None:
        """Finishes a claimed job whose cancel marker is set, without running it."""
        function = await self.queue.finish_cancelled(job_id)
        self.queue.forget(job_id)
        kind = self._kind(function)
        self._event("info", "job.cancelled", job_id=job_id, kind=kind, ran=False)
        if (metrics := self._metrics()) is not None:
            metrics.control_action("job.cancelled")
            metrics.job_finished(kind, "cancelled")

    def _metrics(self) -> WorkerMetrics | None:
        # The runtime holds them (None when no metrics port is set).
        return cast("WorkerMetrics | None", getattr(self.ctx.get("storage_jobs"), "metrics", None))

    def _note_queue_paused(self, paused: bool) -> None:
        if paused == self._queue_paused:
            return
        if paused or self._queue_paused is not None:
            action = "queue.paused" if paused else "queue.resumed"
            self._event("info", action, queue=self.queue_name)
            if (metrics := self._metrics()) is not None:
                metrics.control_action(action)
        if (metrics := self._metrics()) is not None:
            metrics.set_queue_paused(self.queue_name, paused)
        self._queue_paused = paused

    async def _refresh_queue_gauges(self) -> None:
        """Sets the queue gauges (all lanes summed) at most every ``_QUEUE_GAUGE_INTERVAL`` s."""
        metrics = self._metrics()
        now = time.monotonic()
        if metrics is None or now - self._last_queue_gauges < _QUEUE_GAUGE_INTERVAL:
            return
        self._last_queue_gauges = now
        # The overview's counts: a running job (its score is its lease's deadline) is not
        # deferred, and one held while due is not depth.
        depth = await self.queue.depth(in_progress_limit=LEASES_CHECKED)
        metrics.set_queue(self.queue_name, depth.depth, depth.deferred)
        metrics.set_redis_up(True)

    def _kind(self, function: str | None) -> str:
        spec = spec_for_name(function) if function else None
        return spec.kind if spec is not None else "unknown"

    def _event(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, worker_id=self.worker_id, **fields)
