"""StorageWorker: arq's worker loop with leases, supervision, heartbeats and dead letters.

This module is the loop and its claims; each other concern has its own module, which this one
wires into arq's hooks:

- **Claims and leases** (``_leases``): one script call per poll takes up to the free slots'
  worth of due jobs with their payloads and attempt counters; leases are short, renewed and
  fenced by worker id, so a dead worker's job is taken by another within one lease and a
  stalled one cancels its run. ``run_job`` runs a claimed job as arq's would (``_run``).
- **Heartbeats** (``_heartbeats``): one per worker, in the queue's shared ``Heartbeat`` model.
- **Dead letters** (``_dead_letters``): jobs arq fails before our code runs are kept.
- **Finishes** (``_finisher``): results of jobs that end together go out in one script call,
  retried until durable.
- **Supervision.** arq's loop dies on the first Redis ``ConnectionError``. We catch Redis
  failures per poll iteration, back off, and carry on when Redis answers again.
- **Operator control.** The claim (``_leases``) takes nothing while the queue is paused,
  finishes cancelled jobs without running them and parks batches of paused prefix jobs.
- **Wake-ups** (``queue._wake``). arq polls every 0.5 s. Producers push a token to a wake list
  with every job; an idle worker blocks on it (BLPOP) until the soonest deferred job, retry or
  lease deadline its empty claim saw, 5 s at most, so it starts new work in milliseconds and
  sends a command or two a second while idle. A full worker claims again once a quarter of its
  slots are free or ``CLAIM_WINDOW`` after the first one freed, so claims (and the finishes of
  the jobs they start together) come in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
import uuid
from typing import Any, cast

from arq.connections import create_pool
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..jobs import spec_for_name
from ..metrics import WorkerMetrics
from ..queue import CANCELLED as CANCELLED_ERROR
from ..queue import (
    IDLE_WAIT_MAX_S,
    LEASES_CHECKED,
    Outcome,
    QueueKeys,
    finish_cancelled,
    idle_wait,
    is_redis_full,
    parse_result,
    push_wake,
    queue_depth,
    record_outcome,
    redis_said,
    wait_for_wake,
)
from ._dead_letters import keep_timed_out, keep_unrun_failure
from ._finisher import Finish, Finisher
from ._heartbeats import Heartbeats
from ._leases import Claim, Claimed, Leases
from ._run import run_claimed

__all__ = ["CLAIM_WINDOW", "StorageWorker"]

CLAIM_WINDOW = 0.01
"""Seconds a full worker waits, after its first slot frees, for more to free before claiming."""

_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
_QUEUE_GAUGE_INTERVAL = 5.0  # seconds between refreshes of the queue gauges


class StorageWorker(Worker):
    """arq ``Worker`` hardened for storage jobs; takes arq's arguments plus the ones below."""

    def __init__(
        self,
        *args: Any,
        lease_seconds: float = 30.0,
        reserved_slots: int = 0,
        idle_wait_max: float = IDLE_WAIT_MAX_S,
        log: Any = None,
        **kwargs: Any,
    ) -> None:
        """Builds the worker.

        Args:
            *args: Passed to arq's ``Worker``.
            lease_seconds: How long a job's lease lasts without renewal.
            reserved_slots: Free slots bulk jobs never take (kept for high and normal ones);
                one bulk job may start whatever this says while none runs.
            idle_wait_max: Seconds an idle worker blocks on the wake list at most.
            log: A structlog logger.
            **kwargs: Passed to arq's ``Worker``.
        """
        super().__init__(*args, **kwargs)
        self.reserved_slots = reserved_slots
        self.idle_wait_max = idle_wait_max
        self._bulk_running = 0
        self._bulk_capped = False
        self._wakes: set[asyncio.Task[None]] = set()
        self.lease_seconds = lease_seconds
        self.in_progress_timeout_s = lease_seconds
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.keys = QueueKeys(self.queue_name)
        self.log = log
        self.leases = Leases(self.queue_name, self.worker_id, lease_seconds)
        self.finisher = Finisher(lambda: self.pool, self.queue_name, on_retry=self._write_retry)
        self.heartbeats = Heartbeats(
            self.queue_name, self.worker_id, self.health_check_interval, self.max_jobs
        )
        self._last_renewal = 0.0
        self._redis_down_since: float | None = None
        self._housekeeper: asyncio.Task[None] | None = None
        self._slot_freed = asyncio.Event()
        self._claimed_last_poll = 0
        self._wait_s = self.poll_delay_s  # how long the next wait blocks on the wake list
        self._claimed: dict[str, Claimed] = {}  # claimed, not yet started by run_job
        self._scores: dict[str, int] = {}  # running job -> its queue score when claimed
        self._last_queue_gauges = 0.0
        self._queue_paused: bool | None = None

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
            # Full: poll again soon after a job ends (arq would sleep a whole poll delay with a
            # backlog waiting). No token is taken from the wake list, so idle workers still wake.
            await self._wait_for_slots()
            return
        if self._claimed_last_poll:
            return  # the queue may hold more ready jobs: read it again now
        await wait_for_wake(self.pool, self.keys.wake, self._wait_s)

    async def _wait_for_slots(self) -> None:
        """Waits for a slot to free, then up to ``CLAIM_WINDOW`` for a quarter of them to."""
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), self.poll_delay_s)
        enough = max(1, self.max_jobs // 4)
        deadline = time.monotonic() + CLAIM_WINDOW
        while self.max_jobs - self.job_counter < enough:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), left)

    async def _poll_iteration(self) -> None:
        try:
            await self._poll_once()
            await self._refresh_queue_gauges()
        except _REDIS_DOWN as exc:
            await self._redis_unavailable(exc)
        except RedisError as exc:
            if not is_redis_full(exc):
                raise
            # A full Redis refuses the claim's lease write: wait, running jobs carry on.
            self._event("warning", "redis.full", during="claim")
            await asyncio.sleep(1.0)
        else:
            if self._redis_down_since is not None:
                self._event(
                    "info",
                    "redis.recovered",
                    outage_s=round(time.monotonic() - self._redis_down_since, 2),
                )
                self._redis_down_since = None

    async def _poll_once(self) -> None:
        """Arq's poll iteration, with one batched claim for the free slots."""
        self._claimed_last_poll = 0
        if self.allow_pick_jobs and self.job_counter < self.max_jobs:
            want = self.max_jobs - self.job_counter
            now_ms = timestamp_ms()
            claim = await self.leases.claim(
                self.pool,
                want,
                now_ms,
                scan=2 * want + self.max_jobs,
                bulk=self._bulk_allowed(want),
            )
            self._bulk_capped = claim.bulk_capped
            self._wait_s = (
                self.poll_delay_s
                if len(claim) or claim.paused
                else idle_wait(claim.next_due_ms, now_ms, self.poll_delay_s, self.idle_wait_max)
            )
            self._note_queue_paused(claim.paused)
            # All it asked for: more may be due (a paused queue waits for resume's wake token).
            self._claimed_last_poll = len(claim) if len(claim) >= want else 0
            await self._start_claimed(claim)
        if self.allow_abort_jobs:
            await self._cancel_aborted_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # as arq: errors in run_job propagate
        await self.heart_beat()

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

    async def _redis_unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._mark_redis_down(exc)
        assert self._redis_down_since is not None
        # Back off up to 2 s; running jobs carry on, and their leases are renewed on recovery.
        await asyncio.sleep(min(2.0, 0.1 + (now - self._redis_down_since) / 5))

    def _mark_redis_down(self, exc: BaseException) -> None:
        """Says once per outage that Redis is gone (the next good poll says it is back)."""
        if (metrics := self._metrics()) is not None:
            metrics.set_redis_up(False)
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            self._event("warning", "redis.unavailable", error=f"{type(exc).__name__}: {exc}")

    def _release_sem_dec_counter_on_complete(self) -> None:
        super()._release_sem_dec_counter_on_complete()
        self._slot_freed.set()

    async def _start_claimed(self, claim: Claim) -> None:
        """Starts the claimed jobs in slots of their own; finishes the cancelled ones."""
        for job_id in claim.cancelled:
            await self.sem.acquire()
            self.job_counter += 1
            try:
                await self._finish_cancelled(job_id)
            finally:
                self._release_sem_dec_counter_on_complete()
        for claimed in claim.run:
            await self.sem.acquire()
            self.job_counter += 1
            self._claimed[claimed.job_id] = claimed
            task = self.loop.create_task(self.run_job(claimed.job_id, claimed.score))
            bulk = claimed.lane == "bulk"
            self._bulk_running += bulk
            task.add_done_callback(functools.partial(self._job_ended, bulk))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[claimed.job_id] = task

    def _bulk_allowed(self, free: int) -> int | None:
        """Bulk jobs a claim for ``free`` slots may take (None: any number).

        All but the reserved slots; one while none runs, so a small worker's migration (its
        coordinator holding a slot) still makes progress.
        """
        if self.reserved_slots == 0:
            return None
        allowed = max(0, free - self.reserved_slots)
        return allowed if allowed or self._bulk_running else 1

    def _job_ended(self, bulk: bool, _task: object = None) -> None:
        """A job ended: if bulk jobs wait for the slots it frees, wake this worker's poll."""
        self._bulk_running -= bulk
        if not self._bulk_capped:
            return
        self._bulk_capped = False  # the next claim says again
        # A worker with free slots blocks on the wake list, not on its slots: push a token.
        task = self.loop.create_task(self._wake())
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)

    async def _wake(self) -> None:
        with contextlib.suppress(*_REDIS_DOWN):  # the fallback poll claims it a second later
            async with self.pool.pipeline(transaction=True) as tx:
                push_wake(tx, self.keys.wake)
                await tx.execute()

    async def run_job(self, job_id: str, score: int) -> None:
        """Runs a job the claim took, as arq's ``run_job`` would (``_run``); others as arq."""
        claimed = self._claimed.pop(job_id, None)
        if claimed is None:
            await super().run_job(job_id, score)
            return
        self._scores[job_id] = claimed.score
        try:
            await run_claimed(self, claimed)
        finally:
            self._scores.pop(job_id, None)

    async def _finish_cancelled(self, job_id: str) -> None:
        """Finishes a claimed job whose cancel marker is set, without running it."""
        function = await finish_cancelled(
            self.pool, self.queue_name, job_id, result_ttl=self.keep_result_s
        )
        self.leases.forget(job_id)
        spec = spec_for_name(function) if function else None
        kind = spec.kind if spec is not None else "unknown"
        self._event("info", "job.cancelled", job_id=job_id, kind=kind, ran=False)
        if (metrics := self._metrics()) is not None:
            metrics.control_action("job.cancelled")
            metrics.job_finished(kind, "cancelled")

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
                said = redis_said(exc) if isinstance(exc, RedisError) else str(exc)
                self._event("error", "housekeeping.failed", error=f"{type(exc).__name__}: {said}")
            await asyncio.sleep(interval)
            if (lag := time.monotonic() - started - interval) > self.lease_seconds / 4:
                # This late, leases may lapse: the loop is blocked, the CPU starved or Redis slow.
                self._event("warning", "housekeeping.late", lag_s=round(lag, 3))

    async def _renew_leases(self) -> None:
        now = time.monotonic()
        if now - self._last_renewal < self.lease_seconds / 4:
            return
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        for job_id in await self.leases.renew(self.pool, running, timestamp_ms()):
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
        """Finishes like arq, batched (``_finisher``), unless another worker holds the job now."""
        lane = self.leases.lane_of(job_id)
        lost = self.leases.forget(job_id)
        score = self._scores.pop(job_id, None)
        if lost and not finish:
            return  # the new holder owns the lease and the job's keys now
        if finish and result_data is not None:
            await self._dead_letter_timeout(job_id, result_data)
        ttl_ms = None if keep_result_forever or result_timeout_s is None else result_timeout_s
        await self.finisher.finish(
            Finish(
                job_id=job_id,
                finish=finish,
                result_data=result_data,
                result_ttl_ms=None if ttl_ms is None else int(ttl_ms * 1000),
                incr_score=incr_score,
                keep_lease_ms=None if keep_in_progress is None else int(keep_in_progress * 1000),
                outcome=_outcome_of(finish, result_data),
                score=score,
                lane=lane,
            )
        )

    async def _dead_letter_timeout(self, job_id: str, result_data: bytes) -> None:
        """Keeps a job that arq cancelled at the job timeout: it failed for good, unseen by us."""
        kept = await keep_timed_out(
            self.pool, self.queue_name, job_id, result_data, self.job_timeout_s
        )
        if kept is not None:
            self._event(
                "error",
                "job.failed",
                job_id=job_id,
                error_type="TimeoutError",
                message=kept.message,
                attempts=kept.attempts,
                dead_letter=True,
            )

    # -- heartbeats -------------------------------------------------------------------------------

    async def record_health(self) -> None:
        """Writes this worker's own heartbeat (and arq's per-queue one)."""
        if not self.heartbeats.due(time.time()):
            return
        await self.heartbeats.beat(
            self.pool,
            complete=self.jobs_complete,
            failed=self.jobs_failed,
            retried=self.jobs_retried,
            ongoing=len(self.tasks),
            arq_health_key=self.health_check_key,
        )

    async def close(self) -> None:
        """Closes like arq, and removes this worker's heartbeat so it stops counting as live."""
        if self._housekeeper is not None:
            self._housekeeper.cancel()
        if self._pool is not None:
            with contextlib.suppress(RedisError):
                await self.heartbeats.stop(self.pool)
        await super().close()

    # -- dead letters -----------------------------------------------------------------------------

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        """Keeps the payload of a job arq failed before running it, then finishes like arq."""
        kept = await keep_unrun_failure(self.pool, self.queue_name, job_id, result_data)
        self._event(
            "error",
            "job.dead_lettered",
            job_id=job_id,
            error_type=kept.error_type,
            message=kept.message,
        )
        if (metrics := self._metrics()) is not None:
            spec = spec_for_name(kept.function) if kept.function else None
            kind = spec.kind if spec is not None else "unknown"
            invalid = kept.error_type == "InvalidPayload"
            metrics.job_finished(kind, "invalid" if invalid else "failed")
            metrics.dead_lettered(kind)
        with contextlib.suppress(RedisError):  # the dashboard's history; not worth failing on
            invalid = kept.error_type == "InvalidPayload"
            await record_outcome(
                self.pool, self.queue_name, job_id, "invalid" if invalid else "failed"
            )
        lane = self.leases.lane_key(job_id)
        self.leases.forget(job_id)
        await super().finish_failed_job(job_id, kept.result_data)
        # arq leaves a job's abort marker when it fails before running; tidy it like finish_job.
        # arq removes the job from its queue only: a job of another lane leaves that one here.
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.zrem(abort_jobs_ss, job_id)
            if lane != self.queue_name:
                pipe.zrem(lane, job_id)
            await pipe.execute()

    # -- metrics ----------------------------------------------------------------------------------

    def _metrics(self) -> WorkerMetrics | None:
        # The runtime on_startup puts in ctx holds them (None when no metrics port is set).
        return cast("WorkerMetrics | None", getattr(self.ctx.get("storage_jobs"), "metrics", None))

    async def _refresh_queue_gauges(self) -> None:
        """Sets the queue gauges (all lanes summed) at most every ``_QUEUE_GAUGE_INTERVAL`` s."""
        metrics = self._metrics()
        now = time.monotonic()
        if metrics is None or now - self._last_queue_gauges < _QUEUE_GAUGE_INTERVAL:
            return
        self._last_queue_gauges = now
        # The overview's counts: a running job (its score is its lease's deadline) is not
        # deferred, and one held while due is not depth.
        depth = await queue_depth(self.pool, self.queue_name, in_progress_limit=LEASES_CHECKED)
        metrics.set_queue(self.queue_name, depth.depth, depth.deferred)
        metrics.set_redis_up(True)

    def _write_retry(self, exc: BaseException, jobs: int, delay: float) -> None:
        # A worker whose every slot waits on a result write polls nothing meanwhile: its
        # finisher is then the first to see Redis go.
        if isinstance(exc, _REDIS_DOWN):
            self._mark_redis_down(exc)
        self._event(
            "warning",
            "result.write_retry",
            jobs=jobs,
            delay_s=round(delay, 3),
            error=type(exc).__name__,
        )

    def _event(self, level: str, event: str, **fields: Any) -> None:
        if self.log is not None:
            getattr(self.log, level)(event, worker_id=self.worker_id, **fields)


def _outcome_of(finish: bool, result_data: bytes | None) -> Outcome:
    """What a finished attempt ended in, read off the result arq is about to store."""
    if not finish:
        return "retry"
    if result_data is None:
        return "success"  # no result kept: arq only drops results it was told not to keep
    outcome = parse_result(result_data)
    if outcome.success:
        return "success"
    error_type = outcome.error.error_type
    if error_type == "InvalidPayload":
        return "invalid"
    return "cancelled" if error_type == CANCELLED_ERROR else "failed"
