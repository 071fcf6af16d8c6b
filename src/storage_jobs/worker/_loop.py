"""StorageWorker: our worker loop (claim a batch, run, finish in batches), no arq ``Worker``.

The loop and its claims are here; each other concern has its own module:

- **Claims and leases** (``Queue.claim``, ``Queue.renew``): one script call per poll takes the
  free slots' worth of due jobs; leases are short, renewed (``_housekeeping``) and fenced by
  worker id. The worker reaches Redis only through its one ``Queue`` (``Housekeeping.queue``).
- **Running a job** (``_execution``): envelope, handler, timeout, ``Retry``, result, finish.
- **Finishes** (``_finisher``): jobs that end together are finished in one script call.
- **Supervision** (``_housekeeping``): on Redis failures the worker backs off and carries on
  when Redis answers again. A full Redis pauses claims, not running jobs.
- **Operator control.** The claim takes nothing while the queue is paused; cancelled jobs are
  finished without running.
- **Wake-ups** (``Queue.wait_for_wake``, ``Queue.push_wake``). An idle worker blocks on the
  wake list until the soonest deferred job, retry or lease deadline its empty claim saw
  (``idle_wait_max`` at most). A full worker claims again once a quarter of its slots are free
  or ``CLAIM_WINDOW`` after the first one freed, so claims (and the finishes of the jobs they
  start together) come in batches.
- **Stopping.** ``stop()`` (SIGTERM/SIGINT under ``serve()``) ends claiming; running jobs get
  ``shutdown_grace`` seconds, then their handlers are cancelled and the jobs re-queued for
  another worker. ``burst`` mode stops by itself once the queue has nothing due within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import Awaitable
from typing import Any

import structlog

from ..queue import Claim, Claimed, idle_wait, is_redis_full
from ..settings import Settings
from ._housekeeping import REDIS_DOWN, Housekeeping
from ._waits import first_of

__all__ = ["BURST_HORIZON_MS", "CLAIM_WINDOW", "StorageWorker", "build_worker"]

CLAIM_WINDOW = 0.01
"""Seconds a full worker waits, after its first slot frees, for more to free before claiming."""

BURST_HORIZON_MS = 1000
"""A burst worker stops when no job of the queue is due sooner than this (nor running here)."""

_REQUEUE_WAIT_S = 5.0  # after the grace: how long cancelled jobs get to write their re-queue


class StorageWorker(Housekeeping):
    """Runs one queue's jobs until stopped (see the module docstring)."""

    def __init__(self, settings: Settings, *, burst: bool = False, log: Any = None) -> None:
        """Builds the worker (connecting is ``main``'s first step).

        Args:
            settings: Queue, Redis, slots, leases, timeouts, grace.
            burst: Stop once every lane is empty and no job runs or is due within a second.
            log: A structlog logger.
        """
        super().__init__(settings, log)
        self.burst = burst
        self.poll_delay_s = 1.0  # the fallback poll
        self.reserved_slots = settings.reserved_slots
        self.tasks: dict[str, asyncio.Task[None]] = {}  # running job -> its task
        self._bulk_running = 0
        self._bulk_capped = False
        self._wakes: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stop = asyncio.Event()
        self._no_grace = asyncio.Event()
        self._main: asyncio.Task[Any] | None = None
        self._claim_again = False  # the last claim may have left due jobs: no wait before the next
        self._last_claim: tuple[Claim, int] | None = None  # the last claim that ran, and when
        self._wait_s = self.poll_delay_s  # how long the next wait blocks on the wake list
        self.execution.on_finishing = self._slot_freed.set

    # -- running and stopping ----------------------------------------------------------------------

    async def main(self) -> None:
        """Connects (waiting out Redis), starts up, claims and runs jobs until stopped."""
        self._main = asyncio.current_task()
        try:
            await self._connect(self._stop)
            if not self._stop.is_set():
                await self._start()
                await self._run_until_stopped()
        finally:
            self._main = None
            for task in self.tasks.values():
                task.cancel()  # a hard stop (main cancelled): their leases lapse

    async def _run_until_stopped(self) -> None:
        while not self._stop.is_set():
            await self._poll_iteration()
            if self.burst and self._burst_done():
                self._event("info", "worker.burst_done", queue=self.queue_name)
                break
            try:
                await self._wait_for_work()
            except REDIS_DOWN as exc:
                await self._until(self._redis_unavailable(exc))
        await self._drain()

    def stop(self, reason: str = "stop") -> None:
        """Stops claiming; running jobs get the grace period. A second call ends the grace."""
        if self._stop.is_set():
            self._no_grace.set()
            return
        self._stop.set()
        self._event("info", "worker.stopping", reason=reason, running=len(self.tasks))

    async def serve(self) -> None:
        """``main`` with SIGTERM and SIGINT calling ``stop``, then ``close``."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.stop, sig.name)
        try:
            await self.main()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            await self.close()

    async def close(self) -> None:
        """Ends ``main`` if it still runs, removes the heartbeat, closes runtime and Redis."""
        self._stop.set()
        if self._main is not None and not self._main.done():
            self._main.cancel()
            await asyncio.wait([self._main])
        for task in self.tasks.values():
            task.cancel()
        await _ended([*self.tasks.values(), *self._wakes])
        await self._close_housekeeping()

    async def _drain(self) -> None:
        """Gives running jobs the grace period, then cancels them (each re-queues its job)."""
        if self.tasks:
            await self._until(
                asyncio.wait(list(self.tasks.values()), timeout=self.settings.shutdown_grace)
            )
        if self.tasks:
            self._event("warning", "worker.grace_ended", cancelled=len(self.tasks))
            for job_id in list(self.tasks):
                self.execution.cancel(job_id)
        await _ended([*self.tasks.values(), *self._wakes])

    async def _until(self, work: Awaitable[Any]) -> None:
        """Awaits ``work`` unless ``stop`` comes first (then ``work`` is cancelled).

        During the grace period it is the second ``stop`` that cuts it short.
        """
        stop = self._no_grace if self._stop.is_set() else self._stop
        await first_of(work, stop.wait())

    def _burst_done(self) -> bool:
        """In burst mode: nothing runs here and the last claim saw nothing due within 1 s."""
        if self.tasks or self._last_claim is None:
            return False
        claim, at_ms = self._last_claim
        if len(claim) or claim.paused or claim.missed:
            return False
        return claim.next_due_ms is None or claim.next_due_ms > at_ms + BURST_HORIZON_MS

    # -- claiming ------------------------------------------------------------------------------

    async def _wait_for_work(self) -> None:
        if self._busy() >= self.max_jobs:
            # Full: poll again soon after a job ends. No token is taken from the wake list, so
            # idle workers still wake.
            await self._until(self._wait_for_slots())
            return
        if self._claim_again:
            return  # the queue may hold more ready jobs: read it again now
        wait: Awaitable[Any] = self.queue.wait_for_wake(self._wait_s)
        if self.burst and self.tasks:
            # A job's end may be the burst's end: wake for it too.
            self._slot_freed.clear()
            wait = first_of(wait, self._slot_freed.wait())
        await self._until(wait)

    async def _wait_for_slots(self) -> None:
        """Waits for a slot to free, then up to ``CLAIM_WINDOW`` for a quarter of them to."""
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), self.poll_delay_s)
        enough = max(1, self.max_jobs // 4)
        deadline = time.monotonic() + CLAIM_WINDOW
        while self.max_jobs - self._busy() < enough:
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
        except REDIS_DOWN as exc:
            self._last_claim = None
            await self._until(self._redis_unavailable(exc))
        except Exception as exc:
            if not is_redis_full(exc):  # an OOM answer; anything else is not ours to handle
                raise
            # A full Redis refuses the claim's lease write: wait, running jobs carry on.
            self._last_claim = None
            self._event("warning", "redis.full", during="claim")
            await self._until(asyncio.sleep(1.0))
        else:
            self._redis_answered()

    async def _poll_once(self) -> None:
        """One batched claim for the free slots; starts what it took."""
        self._claim_again = False
        want = self.max_jobs - self._busy()
        if self._stop.is_set() or want <= 0:
            return
        now_ms = int(time.time() * 1000)
        claim = await self.queue.claim(
            want, now_ms, scan=2 * want + self.max_jobs, bulk=self._bulk_allowed(want)
        )
        self._last_claim = (claim, now_ms)
        self._bulk_capped = claim.bulk_capped
        self._wait_s = (
            self.poll_delay_s
            if len(claim) or claim.paused
            else idle_wait(
                claim.next_due_ms, now_ms, self.poll_delay_s, self.settings.idle_wait_max
            )
        )
        self._note_queue_paused(claim.paused)
        # All it asked for, or cut short by an enqueue writing under it: more may be due (a
        # paused queue waits for resume's wake token).
        self._claim_again = len(claim) >= want or claim.missed
        await self._start_claimed(claim)

    async def _start_claimed(self, claim: Claim) -> None:
        """Starts the claimed jobs in tasks of their own; finishes cancelled and expired ones."""
        for job_id in claim.cancelled:
            await self._finish_cancelled(job_id)
        for claimed in claim.run:
            task = asyncio.create_task(self._run(claimed))
            self.tasks[claimed.job_id] = task
            bulk = claimed.lane == "bulk"
            self._bulk_running += bulk
            task.add_done_callback(functools.partial(self._job_ended, bulk))
            task.add_done_callback(functools.partial(self._slot_done, claimed.job_id))
        if claim.expired:  # one batched finish for them all, once the runs have started
            await asyncio.gather(*(self.execution.expire(claimed) for claimed in claim.expired))

    async def _run(self, claimed: Claimed) -> None:
        try:
            await self.execution.run(claimed)
        except Exception as exc:
            # Its lease lapses and the job runs again (on this worker or another).
            self.queue.forget(claimed.job_id)
            said = f"{type(exc).__name__}: {exc}"[:500]
            self._event("error", "job.crashed", job_id=claimed.job_id, error=said)

    def _busy(self) -> int:
        """Slots taken: running jobs but those only waiting for their finish's write."""
        return len(self.tasks) - min(len(self.execution.finishing), self.max_jobs)

    def _slot_done(self, job_id: str, _task: object = None) -> None:
        self.tasks.pop(job_id, None)
        self._slot_freed.set()

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
        task = asyncio.get_running_loop().create_task(self._wake())
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)

    async def _wake(self) -> None:
        with contextlib.suppress(*REDIS_DOWN):  # the fallback poll claims it a second later
            await self.queue.push_wake()


def build_worker(settings: Settings, *, burst: bool = False) -> StorageWorker:
    """The worker ``storage-jobs worker`` runs."""
    return StorageWorker(settings, burst=burst, log=structlog.get_logger("storage_jobs.worker"))


async def _ended(tasks: list[asyncio.Task[None]]) -> None:
    """Waits for tasks to end, ``_REQUEUE_WAIT_S`` at most."""
    if tasks:
        await asyncio.wait(tasks, timeout=_REQUEUE_WAIT_S)
