"""StorageWorker: arq's worker with leases, supervision, heartbeats and dead letters.

What it adds to arq's ``Worker``, each because arq alone loses or stalls work:

- **Leases.** arq marks a job in progress for its whole timeout (+10 s), so a job held by a
  SIGKILLed worker waits that long. We hold a short lease (``lease_seconds``) and renew it while
  the job runs, so a dead worker's job is picked up by another within one lease. The lease holds
  the worker's id: a worker that finds its lease taken (it stalled past the lease and another
  worker took the job) cancels its run and leaves the job to the new holder.
- **Supervision.** arq's loop dies on the first Redis ``ConnectionError``. We catch Redis
  failures per poll iteration, back off, and carry on when Redis answers again.
- **Heartbeats.** arq has one health key per queue; each of our workers has its own.
- **Dead letters.** Jobs arq fails before our code runs (undecodable payloads, unknown function,
  too many crashes) are kept for inspection instead of vanishing.
- **Wake-ups.** arq polls every 0.5 s. Producers push a token to a wake list with every job; an
  idle worker blocks on it (BLPOP), so it starts new work in milliseconds and sends about two
  commands a second while idle. Claiming stays arq's (WATCH on the in-progress key).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from arq.connections import create_pool
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._keys import QueueKeys

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript
from ..deadletters import DeadLetterStore
from ..jobs import spec_for_name
from ..metrics import WorkerMetrics
from ._codec import decode, encode

__all__ = ["StorageWorker"]

# Renew a lease only while it is still ours; 0 tells the holder it lost the job.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

# Take a job that is due and not held by anyone: the lease is the in-progress key.
_CLAIM = """
if redis.call('exists', KEYS[1]) == 1 then return false end
local score = redis.call('zscore', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
redis.call('psetex', KEYS[1], ARGV[3], ARGV[4])
return score
"""

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
_QUEUE_GAUGE_INTERVAL = 5.0  # seconds between refreshes of the queue gauges


class StorageWorker(Worker):
    """arq ``Worker`` hardened for storage jobs; takes arq's arguments plus the ones below."""

    def __init__(
        self, *args: Any, lease_seconds: float = 30.0, log: Any = None, **kwargs: Any
    ) -> None:
        """Builds the worker.

        Args:
            *args: Passed to arq's ``Worker``.
            lease_seconds: How long a job's lease lasts without renewal.
            log: A structlog logger.
            **kwargs: Passed to arq's ``Worker``.
        """
        super().__init__(*args, **kwargs)
        self.lease_seconds = lease_seconds
        self.in_progress_timeout_s = lease_seconds
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.keys = QueueKeys(self.queue_name)
        self.log = log
        self._last_renewal = 0.0
        self._redis_down_since: float | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._lost_leases: set[str] = set()
        self._slot_freed = asyncio.Event()
        self._claimed_last_poll = 0
        self._renew: AsyncScript | None = None
        self._claim_script: AsyncScript | None = None
        self._last_queue_gauges = 0.0
        self._started_at = time.time()

    # -- the loop ---------------------------------------------------------------------------------

    async def main(self) -> None:
        """Connects (waiting out Redis if it is down), starts up, then polls and waits for work."""
        if self.burst:
            await super().main()
            return
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                )
            except _REDIS_DOWN as exc:
                await self._redis_unavailable(exc)
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        if (metrics := self._metrics()) is not None:
            metrics.set_worker(self.worker_id, self.queue_name)
            metrics.set_redis_up(True)
        # Leases and heartbeats get their own task: arq's poll loop blocks while every slot is
        # busy, and a busy worker must neither lose its jobs' leases nor look dead.
        self._housekeeper = asyncio.create_task(self._housekeeping())
        while True:
            await self._poll_iteration()
            try:
                await self._wait_for_work()
            except _REDIS_DOWN as exc:
                await self._redis_unavailable(exc)

    async def _wait_for_work(self) -> None:
        if not self.allow_pick_jobs:
            await asyncio.sleep(self.poll_delay_s)
            return
        if self.job_counter >= self.max_jobs:
            # Full: poll again as soon as a job ends (arq would sleep a whole poll delay with a
            # backlog waiting). No token is taken from the wake list, so idle workers still wake.
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), self.poll_delay_s)
            return
        if self._claimed_last_poll:
            return  # the queue may hold more ready jobs: read it again now
        # Redis >= 6 takes fractional BLPOP timeouts; redis-py's stubs say int.
        timeout = cast(int, self.poll_delay_s)
        await cast(Awaitable[Any], self.pool.blpop([self.keys.wake], timeout=timeout))

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
            await self._refresh_queue_gauges()
        except _REDIS_DOWN as exc:
            await self._redis_unavailable(exc)
        else:
            if self._redis_down_since is not None:
                self._event(
                    "info",
                    "redis.recovered",
                    outage_s=round(time.monotonic() - self._redis_down_since, 2),
                )
                self._redis_down_since = None

    async def _redis_unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if (metrics := self._metrics()) is not None:
            metrics.set_redis_up(False)
        if self._redis_down_since is None:
            self._redis_down_since = now
            self._event("warning", "redis.unavailable", error=f"{type(exc).__name__}: {exc}")
        # Back off up to 2 s; running jobs carry on, and their leases are renewed on recovery.
        await asyncio.sleep(min(2.0, 0.1 + (now - self._redis_down_since) / 5))

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Claims and starts jobs exactly like arq, without leaking a slot on a Redis error."""
        self._claimed_last_poll = 0
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            try:
                claimed, score = await self._claim(job_id)
            except BaseException:
                self._release_sem_dec_counter_on_complete()
                raise
            if not claimed:
                self._release_sem_dec_counter_on_complete()
                continue
            self._claimed_last_poll += 1
            task = self.loop.create_task(self.run_job(job_id, score))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

    async def _claim(self, job_id: str) -> tuple[bool, int]:
        # arq's claim (WATCH, EXISTS, ZSCORE, MULTI/EXEC) is five round trips; the same
        # check-and-set as one script is one, with the lease holding this worker's id.
        if self._claim_script is None:
            self._claim_script = self.pool.register_script(_CLAIM)
        score = await self._claim_script(
            keys=[self.keys.in_progress(job_id), self.queue_name],
            args=[job_id, timestamp_ms(), int(self.lease_seconds * 1000), self.worker_id],
        )
        if score is None:
            return False, 0
        return True, int(float(score))

    # -- leases -----------------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        interval = min(self.lease_seconds / 4, self.health_check_interval)
        while True:
            started = time.monotonic()
            try:
                await self._renew_leases()
                await self.record_health()
            except _REDIS_DOWN as exc:
                self._event("warning", "housekeeping.redis_error", error=type(exc).__name__)
            except Exception as exc:
                self._event("error", "housekeeping.failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)
            if (lag := time.monotonic() - started - interval) > self.lease_seconds / 4:
                # This late, leases may lapse: the loop is blocked, the CPU starved or Redis slow.
                self._event("warning", "housekeeping.late", lag_s=round(lag, 3))

    async def _renew_leases(self) -> None:
        now = time.monotonic()
        if now - self._last_renewal < self.lease_seconds / 4:
            return
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if running:
            if self._renew is None:
                self._renew = self.pool.register_script(_RENEW)
            renew = self._renew
            ttl = int(self.lease_seconds * 1000)
            async with self.pool.pipeline(transaction=False) as pipe:
                for job_id in running:
                    await renew(
                        keys=[self.keys.in_progress(job_id)],
                        args=[self.worker_id, ttl],
                        client=pipe,
                    )
                answers = await pipe.execute()
            for job_id, kept in zip(running, answers, strict=True):
                if not kept and job_id not in self._lost_leases:
                    self._lost_leases.add(job_id)
                    self._event("warning", "lease.lost", job_id=job_id)
                    if job_task := self.job_tasks.get(job_id):
                        job_task.cancel()
        self._last_renewal = now

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        """Finishes like arq, unless the job was cancelled because another worker holds it."""
        lost = job_id in self._lost_leases
        self._lost_leases.discard(job_id)
        if lost and not finish:
            return  # the new holder owns the lease and the job's keys now
        if finish and result_data is not None:
            await self._dead_letter_timeout(job_id, result_data)
        await super().finish_job(
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )

    async def _dead_letter_timeout(self, job_id: str, result_data: bytes) -> None:
        """Keeps a job that arq cancelled at the job timeout: it failed for good, unseen by us."""
        try:
            result = decode(result_data)
        except ValueError:
            return
        error = result.get("r")
        if result.get("s") or not isinstance(error, dict):
            return
        store = DeadLetterStore(self.pool, self.queue_name)
        if error.get("error_type") != "TimeoutError" or await store.get(job_id) is not None:
            return  # our runtime dead-lettered it (it does so for every failure it sees)
        attempts = int(result.get("t") or 0)
        message = f"cancelled after the job timeout ({self.job_timeout_s:g} s)"
        raw = await self.pool.get(self.keys.job(job_id))
        with contextlib.suppress(ValueError, TypeError, IndexError, AttributeError):
            raw = decode(raw).get("a", [None])[0].encode()  # the payload, as our runtime keeps it
        await store.add(
            job_id=job_id,
            function=result.get("f") if isinstance(result.get("f"), str) else None,
            raw_payload=raw,
            error_type="TimeoutError",
            message=message,
            attempts=attempts,
        )
        self._event(
            "error",
            "job.failed",
            job_id=job_id,
            error_type="TimeoutError",
            message=message,
            attempts=attempts,
            dead_letter=True,
        )

    # -- heartbeats -------------------------------------------------------------------------------

    async def record_health(self) -> None:
        """Writes this worker's own heartbeat (and arq's per-queue one)."""
        now = time.time()
        if now - self._last_health_check < self.health_check_interval:
            return
        self._last_health_check = now
        info = {
            "worker_id": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self._started_at,
            "heartbeat_at": now,
            "jobs_complete": self.jobs_complete,
            "jobs_failed": self.jobs_failed,
            "jobs_retried": self.jobs_retried,
            "jobs_ongoing": len(self.tasks),
            "max_jobs": self.max_jobs,
        }
        ttl_ms = int(self.health_check_interval * 3 * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.workers, {self.worker_id: int(now * 1000)})
            pipe.set(self.keys.worker(self.worker_id), json.dumps(info), px=ttl_ms)
            pipe.psetex(self.health_check_key, ttl_ms, json.dumps(info).encode())
            # Forget workers silent for an hour; their own keys expired long ago.
            pipe.zremrangebyscore(self.keys.workers, 0, int((now - 3600) * 1000))
            await pipe.execute()

    async def close(self) -> None:
        """Closes like arq, and removes this worker's heartbeat so it stops counting as live."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        if self._pool is not None:
            try:
                async with self.pool.pipeline(transaction=False) as pipe:
                    pipe.zrem(self.keys.workers, self.worker_id)
                    pipe.delete(self.keys.worker(self.worker_id))
                    await pipe.execute()
            except RedisError:
                pass
        await super().close()

    # -- dead letters -----------------------------------------------------------------------------

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        """Keeps the payload of a job arq failed before running it, then finishes like arq."""
        raw = await self.pool.get(self.keys.job(job_id))
        function, attempts, message = None, 0, "failed before it could run"
        if result_data:
            try:
                result = decode(result_data)
                function = result.get("f")
                attempts = int(result.get("t") or 0)
                error = result.get("r") or {}
                message = str(error.get("message", message)) if isinstance(error, dict) else message
            except (ValueError, TypeError):
                pass
        error_type = "InvalidPayload" if raw is not None and _undecodable(raw) else "JobFailed"
        await DeadLetterStore(self.pool, self.queue_name).add(
            job_id=job_id,
            function=function if isinstance(function, str) else None,
            raw_payload=raw,
            error_type=error_type,
            message=message,
            attempts=attempts,
        )
        self._event(
            "error", "job.dead_lettered", job_id=job_id, error_type=error_type, message=message
        )
        if (metrics := self._metrics()) is not None:
            spec = spec_for_name(function) if isinstance(function, str) else None
            kind = spec.kind if spec is not None else "unknown"
            metrics.job_finished(kind, "invalid" if error_type == "InvalidPayload" else "failed")
            metrics.dead_lettered(kind)
        if error_type == "InvalidPayload" and result_data:
            # The result is what producers read first: say what the dead letter says.
            with contextlib.suppress(ValueError, TypeError):
                result = decode(result_data)
                result["r"] = {"error_type": error_type, "code": None, "message": message}
                result_data = encode(result)
        await super().finish_failed_job(job_id, result_data)
        # arq leaves a job's abort marker when it fails before running; tidy it like finish_job.
        await self.pool.zrem(abort_jobs_ss, job_id)

    # -- metrics ----------------------------------------------------------------------------------

    def _metrics(self) -> WorkerMetrics | None:
        # The runtime on_startup puts in ctx holds them (None when no metrics port is set).
        return cast("WorkerMetrics | None", getattr(self.ctx.get("storage_jobs"), "metrics", None))

    async def _refresh_queue_gauges(self) -> None:
        """Sets the queue gauges (one ZCOUNT pair) at most every ``_QUEUE_GAUGE_INTERVAL`` s."""
        metrics = self._metrics()
        now = time.monotonic()
        if metrics is None or now - self._last_queue_gauges < _QUEUE_GAUGE_INTERVAL:
            return
        self._last_queue_gauges = now
        now_ms = timestamp_ms()
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.zcount(self.queue_name, "-inf", now_ms)
            pipe.zcount(self.queue_name, f"({now_ms}", "+inf")
            due, deferred = await pipe.execute()
        metrics.set_queue(self.queue_name, int(due), int(deferred))
        metrics.set_redis_up(True)

    def _event(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, worker_id=self.worker_id, **fields)


def _undecodable(raw: bytes) -> bool:
    try:
        decode(raw)
    except ValueError:
        return True
    return False
