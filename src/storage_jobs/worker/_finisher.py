"""Finishing jobs in batches: the results of jobs that end together go out in one script call.

arq finishes each job with its own ``MULTI``/``EXEC`` of six commands and a round trip. Here a
finish joins a batch: the first one starts a flush ``window`` seconds later (5 ms), whatever
else finishes by then rides along, and while a flush is in flight the next batch gathers
(group commit: larger batches the busier the worker). One script per batch sets each result,
deletes every job's keys (one ``DEL``), removes them all from their lanes (one ``ZREM`` per
lane) and announces their ids to waiting clients (``queue.ResultWaiter``): one command per job (its
result's ``SET``), about six per batch and one round trip per batch.

A finish returns only once its batch is durable in Redis. When the write fails (Redis down or
out of memory), the batch is retried with backoff until it succeeds; the job's task has not
ended meanwhile, so its lease keeps being renewed and no other worker takes it, and nothing is
reported that was not stored. A worker stopped first leaves the job to be re-run by the next
holder of its lease (job handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError, TryAgainError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..queue import (
    FINISHED_KEPT,
    HISTORY_TTL,
    WAKE_LUA,
    Outcome,
    Priority,
    QueueKeys,
    finished_index,
    history_field,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["Finish", "Finisher"]

# KEYS: the queue (arq's: the normal lane), this minute's history hash, the complete, failed and
# cancelled indexes, then (in-progress, result, retry, job, the job's lane) per job, then the
# wake list (a job left queued, a retry, wakes an idle worker to learn when it is due).
# ARGV: (job id, finish 1/0, result data, result ttl ms or '', queue score increment or '',
# keep-lease ms or '', history field, index 'complete'/'failed'/'cancelled'/'', the job's score
# when claimed or '') per job, then the channel that hears the finished ids (one PUBLISH per
# batch wakes waiting clients), the time (index score), the history's ttl, how many ids an index
# keeps and whether to trim the indexes to that now ('1'/'').
_FINISH = (
    WAKE_LUA
    + """
local n = 9
local channel, now = ARGV[#ARGV - 4], ARGV[#ARGV - 3]
local history_ttl, kept, trim = ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
local removed, doomed, fields, by_lane = {}, {}, {}, {}
local indexed = {complete = {}, failed = {}, cancelled = {}}
local requeued = false
for i = 1, (#KEYS - 6) / 5 do
    local lease, result = KEYS[5 * i + 1], KEYS[5 * i + 2]
    local retry, job, lane = KEYS[5 * i + 3], KEYS[5 * i + 4], KEYS[5 * i + 5]
    local at = (i - 1) * n
    local id, finish, data, ttl = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
    local incr, keep, field, index = ARGV[at + 5], ARGV[at + 6], ARGV[at + 7], ARGV[at + 8]
    local score = ARGV[at + 9]
    fields[field] = (fields[field] or 0) + 1
    if index ~= '' then
        local members = indexed[index]
        members[#members + 1] = now
        members[#members + 1] = id
    end
    if keep ~= '' then redis.call('pexpire', lease, keep)
    else doomed[#doomed + 1] = lease end
    if finish == '1' then
        if data ~= '' then
            if ttl == '' then redis.call('set', result, data)
            else redis.call('set', result, data, 'PX', ttl) end
        end
        doomed[#doomed + 1] = retry
        doomed[#doomed + 1] = job
        removed[#removed + 1] = id
        local ids = by_lane[lane]
        if ids == nil then
            ids = {}
            by_lane[lane] = ids
        end
        ids[#ids + 1] = id
    elseif score ~= '' then
        -- The claim moved the score to the lease's deadline: back to arq's, plus any delay.
        redis.call('zadd', lane, tonumber(score) + (tonumber(incr) or 0), id)
        requeued = true
    elseif incr ~= '' then
        redis.call('zincrby', lane, incr, id)
        requeued = true
    end
end
if #doomed > 0 then redis.call('del', unpack(doomed)) end
if requeued then wake(KEYS[#KEYS]) end
if #removed > 0 then
    for lane, ids in pairs(by_lane) do redis.call('zrem', lane, unpack(ids)) end
    redis.call('publish', channel, cjson.encode(removed))
end
-- The dashboard's per-minute chart and finished-jobs lists, a few commands per batch: the
-- hash gets its expiry when a field is first counted, the indexes are trimmed now and then.
for field, count in pairs(fields) do
    if redis.call('hincrby', KEYS[2], field, count) == count then
        redis.call('expire', KEYS[2], history_ttl)
    end
end
for index, key in pairs({complete = KEYS[3], failed = KEYS[4], cancelled = KEYS[5]}) do
    if #indexed[index] > 0 then
        redis.call('zadd', key, unpack(indexed[index]))
        if trim ~= '' then redis.call('zremrangebyrank', key, 0, -tonumber(kept) - 1) end
    end
end
return #removed
"""
)

MAX_BATCH = 256
"""Finishes per script call at most."""

TRIM_EVERY = 16
"""Batches between trims of the finished-jobs indexes (they hold ``FINISHED_KEPT`` ids, and
up to ``TRIM_EVERY * MAX_BATCH`` more between trims)."""


@dataclass(frozen=True)
class Finish:
    """What finishing one job writes (arq's ``finish_job`` arguments).

    Attributes:
        job_id: The job.
        finish: True to store the result and remove the job; False to leave it queued.
        result_data: The serialized result, if one is kept.
        result_ttl_ms: How long the result is kept (None: forever).
        incr_score: Milliseconds to push the job's run time back (a retry's delay).
        keep_lease_ms: Keep the lease this long instead of deleting it.
        outcome: What the attempt ended in, for the dashboard's history.
        score: The job's queue score when it was claimed: a job left queued (a retry) gets it
            back, plus ``incr_score`` (the claim moved it to the lease's deadline). None: the
            score is only incremented, as arq does.
        lane: The lane the job was claimed from: its removal and retry address that set.
    """

    job_id: str
    finish: bool
    result_data: bytes | None = None
    result_ttl_ms: int | None = None
    incr_score: int | None = None
    keep_lease_ms: int | None = None
    outcome: Outcome = "success"
    score: int | None = None
    lane: Priority = "normal"


class Finisher:
    """Writes finishes of one worker's queue in batches (see the module docstring)."""

    def __init__(
        self,
        redis: Callable[[], Redis],
        queue_name: str,
        *,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
        max_delay: float = 2.0,
        window: float = 0.005,
    ) -> None:
        """Builds a finisher.

        Args:
            redis: Returns the worker's connection (it may be replaced after an outage).
            queue_name: The queue.
            on_retry: Told ``(error, jobs, delay)`` each time a batch write fails.
            max_delay: Cap on the backoff between attempts of a failed write.
            window: Seconds the first finish of a batch waits for others to join it.
        """
        self._redis = redis
        self.keys = QueueKeys(queue_name)
        self.on_retry = on_retry
        self.max_delay = max_delay
        self.window = window
        self.batches_written = 0
        self._pending: list[tuple[Finish, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._script: AsyncScript | None = None

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
        now = time.time()
        keys: list[str] = [
            self.keys.queue,
            self.keys.history(int(now // 60)),
            self.keys.finished("complete"),
            self.keys.finished("failed"),
            self.keys.finished("cancelled"),
        ]
        args: list[Any] = []
        for item in items:
            job_id = item.job_id
            keys += [
                self.keys.in_progress(job_id),
                self.keys.result(job_id),
                self.keys.retry(job_id),
                self.keys.job(job_id),
                self.keys.lane(item.lane),
            ]
            args += [
                job_id,
                "1" if item.finish else "0",
                item.result_data or b"",
                "" if item.result_ttl_ms is None else item.result_ttl_ms,
                "" if not item.incr_score else item.incr_score,
                "" if item.keep_lease_ms is None else item.keep_lease_ms,
                history_field(item.outcome),
                finished_index(item.outcome) or "",
                "" if item.score is None else item.score,
            ]
        trim = "1" if self.batches_written % TRIM_EVERY == 0 else ""
        keys.append(self.keys.wake)
        args += [self.keys.done_channel, now, HISTORY_TTL, FINISHED_KEPT, trim]
        delay = 0.05
        while True:
            redis = self._redis()
            if self._script is None:
                self._script = redis.register_script(_FINISH)
            try:
                await self._script(keys=keys, args=args, client=redis)
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
