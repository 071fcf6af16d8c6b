"""Finishing jobs in batches: the results of jobs that end together go out in one script call.

arq finishes each job with its own ``MULTI``/``EXEC`` of six commands and a round trip. Here a
finish joins a batch: the first one starts a flush ``window`` seconds later (5 ms), whatever
else finishes by then rides along, and while a flush is in flight the next batch gathers
(group commit: larger batches the busier the worker). Each batch is one ``queue.Queue.finish``
call (``queue/lua/finish.lua``): one command per job (its result's ``SET``), about six per batch
and one round trip per batch.

A finish returns only once its batch is durable in Redis. When the write fails (Redis down or
out of memory), the batch is retried with backoff until it succeeds; the job's task has not
ended meanwhile, so its lease keeps being renewed and no other worker takes it, and nothing is
reported that was not stored. A worker stopped first leaves the job to be re-run by the next
holder of its lease (job handlers are idempotent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError, TryAgainError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..queue import Finish

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["Finish", "Finisher"]

MAX_BATCH = 256
"""Finishes per script call at most."""

TRIM_EVERY = 16
"""Batches between trims of the finished-jobs indexes (they hold ``FINISHED_KEPT`` ids, and
up to ``TRIM_EVERY * MAX_BATCH`` more between trims)."""


class Finisher:
    """Writes finishes of one worker's queue in batches (see the module docstring)."""

    def __init__(
        self,
        queue: Callable[[], Queue],
        *,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
        max_delay: float = 2.0,
        window: float = 0.005,
    ) -> None:
        """Builds a finisher.

        Args:
            queue: Returns the worker's ``Queue`` (built once it has connected).
            on_retry: Told ``(error, jobs, delay)`` each time a batch write fails.
            max_delay: Cap on the backoff between attempts of a failed write.
            window: Seconds the first finish of a batch waits for others to join it.
        """
        self._queue = queue
        self.on_retry = on_retry
        self.max_delay = max_delay
        self.window = window
        self.batches_written = 0
        self._pending: list[tuple[Finish, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def finish(self, item: Finish) -> None:
        """Returns once the finish is durable in Redis."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        await asyncio.sleep(self.window)  # let finishes of the next few ms join this batch
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self._write([item for item, _ in batch])
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _write(self, items: list[Finish]) -> None:
        trim = self.batches_written % TRIM_EVERY == 0
        delay = 0.05
        while True:
            try:
                await self._queue().finish(items, trim=trim)
            except (RedisConnectionError, RedisTimeoutError, ResponseError) as exc:
                if not _worth_retrying(exc):
                    raise
                if self.on_retry is not None:
                    self.on_retry(exc, len(items), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            self.batches_written += 1
            return


def _worth_retrying(exc: BaseException) -> bool:
    """Whether a failed write may succeed later: Redis away, full, read-only or busy.

    A script error of another kind is a bug, and retrying it would hang the job forever.
    """
    transient = RedisConnectionError | RedisTimeoutError | OutOfMemoryError | ReadOnlyError
    if isinstance(exc, transient):
        return True
    return isinstance(exc, TryAgainError) or "OOM" in str(exc)[:200]
