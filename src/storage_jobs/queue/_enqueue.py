"""The enqueue primitive: the one way a job gets onto the queue (producers, fan-out and replay).

One script call (``lua/enqueue.lua``) writes up to ``BATCH`` jobs (or ``BATCH_BYTES`` of
payload): each is added unless its id exists or has a result (so the same id runs once), all new
ones join the queue in one ``ZADD``, and one wake token starts an idle worker at once. A call
writes to one lane (``QueueKeys.lane``): jobs of different priorities go in separate calls. Per
job that is two commands (``EXISTS``, ``SET``) where a script per job cost six. The calls go
out pipelined, ``CALLS_PER_ROUND_TRIP`` at a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import QueueFullError, QueueUnavailableError
from ..jobs import JobLimits, JobModel, spec_for_job
from ._keys import LANES, Priority, QueueKeys
from ._memory import is_redis_full, redis_said
from ._scripts import ReplicaWaitError, ScriptCall, Scripts
from ._wire import build_envelope

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "BATCH",
    "BATCH_BYTES",
    "CALLS_PER_ROUND_TRIP",
    "Enqueuer",
    "NewJob",
    "check_new_jobs",
]

QUEUED_JOB_MIN_TTL = 7 * 24 * 3600.0
"""Seconds a queued job's payload lives at least, whatever the result TTL."""

BATCH = 600
"""Jobs per script call at most: 1,205 keys and 2,400 arguments, so a call stays under the
3,999 arguments a command may have on ElastiCache Serverless."""

BATCH_BYTES = 16 * 1024 * 1024
"""Payload bytes per script call at most: one call is one request Redis buffers whole."""

CALLS_PER_ROUND_TRIP = 10
"""Script calls per pipelined round trip."""

Chunk = list[tuple[str, bytes, int, int, str]]
"""The jobs of one script call: ``(job id, envelope, ttl ms, score, lane key)``, one lane."""


@dataclass(frozen=True)
class NewJob:
    """One job to enqueue.

    Attributes:
        job: The payload model.
        job_id: Its id; a random one when None.
        defer_by: Seconds before it may run.
        priority: Its lane (None: ``normal``, and a prefix job's batches then go to ``bulk``).
        trace: The producer's trace context (``tracing``), carried in the envelope.
        expires: Seconds from now: a job not started by then never runs (status ``expired``).
    """

    job: JobModel
    job_id: str | None = None
    defer_by: float | None = None
    priority: Priority | None = None
    trace: Mapping[str, str] | None = None
    expires: float | None = None


class Enqueuer:
    """Puts jobs on one queue."""

    def __init__(
        self,
        redis: Redis,
        queue_name: str,
        *,
        result_ttl: float,
        scripts: Scripts | None = None,
    ) -> None:
        """Binds the primitive to a connection and queue.

        Args:
            redis: The connection.
            queue_name: The queue.
            result_ttl: Seconds a job's key lives past its run time (its result's lifetime);
                a queued job's key lives at least ``QUEUED_JOB_MIN_TTL``.
            scripts: The queue's scripts on ``redis``; None registers them here.
        """
        self.redis = redis
        self.keys = QueueKeys(queue_name)
        self.result_ttl = result_ttl
        self.scripts = scripts or Scripts(redis)

    async def enqueue(
        self, items: Sequence[NewJob], *, limits: JobLimits | None = None
    ) -> list[tuple[str, bool]]:
        """Checks every job, then writes them all.

        Args:
            items: The jobs.
            limits: Checked against each job before anything is written.

        Returns:
            ``(job_id, enqueued)`` per job; ``enqueued`` is False when the id was taken.

        Raises:
            JobRejectedError: If a job breaks a limit; then none is enqueued.
            QueueFullError: If Redis is full (``maxmemory`` under ``noeviction``). Each job is
                written whole or not at all; ``enqueued`` lists those that were.
            QueueUnavailableError: If Redis refused otherwise (likewise): NOPERM, READONLY...
            redis.ConnectionError: If Redis is unreachable (as before: it quotes no command).
            TypeError: If an item is not a catalogued job.
            ValueError: If a ``defer_by`` is negative, an ``expires`` not after it (nor after
                now), or a priority not one of ``LANES``.
        """
        # Each job serialized once: its size checked against the cap, then stored.
        payloads = [item.job.model_dump_json() for item in items]
        check_new_jobs(items, limits, payloads)
        now_ms = int(time.time() * 1000)
        prepared: Chunk = []
        for item, payload in zip(items, payloads, strict=True):
            spec = spec_for_job(item.job)
            job_id = item.job_id or uuid.uuid4().hex
            defer_ms = int((item.defer_by or 0) * 1000)
            expires_ms = None if item.expires is None else now_ms + int(item.expires * 1000)
            data = build_envelope(
                spec.function_name,
                payload,
                now_ms,
                item.priority,
                trace=item.trace,
                expires_ms=expires_ms,
            )
            # A queued job must outlive any backlog: a short result TTL would expire its payload
            # before a busy worker reached it (arq then fails it as expired: a lost job).
            ttl_ms = int(max(self.result_ttl, QUEUED_JOB_MIN_TTL) * 1000) + defer_ms
            lane = self.keys.lane(item.priority or "normal")
            prepared.append((job_id, data, ttl_ms, now_ms + defer_ms, lane))
        answers: list[tuple[str, bool]] = []
        chunks = _chunks(prepared)
        for start in range(0, len(chunks), CALLS_PER_ROUND_TRIP):
            calls = chunks[start : start + CALLS_PER_ROUND_TRIP]
            written = await self._write(calls, answers)
            for chunk, flags in zip(calls, written, strict=True):
                answers.extend(
                    (job_id, bool(ok)) for (job_id, *_), ok in zip(chunk, flags, strict=True)
                )
        return answers

    async def _write(self, calls: Sequence[Chunk], before: Sequence[tuple[str, bool]]) -> list[Any]:
        """One pipelined round trip of script calls; Redis errors become ``QueueUnavailableError``.

        Each call is written whole or not at all: its reads come first, and under
        ``noeviction`` a full Redis refuses a script's first write, before any key changed.
        redis-py's own errors quote the failed command, payload included: they are read here
        and dropped, and the raised error is built outside any ``except`` so none rides along
        as its ``__context__``.
        """
        failure: QueueUnavailableError | None = None
        short: ReplicaWaitError | None = None
        written: list[Any] = []
        try:
            script_calls: list[ScriptCall] = []
            for chunk in calls:
                keys = [chunk[0][4], self.keys.wake]
                args: list[bytes | int | str] = []
                for job_id, data, ttl_ms, score, _ in chunk:
                    keys += [self.keys.job(job_id), self.keys.result(job_id)]
                    args += [data, ttl_ms, score, job_id]
                script_calls.append(("enqueue", keys, args))
            written = await self.scripts.run_many(script_calls, raise_on_error=False, durable=True)
        except ReplicaWaitError as exc:  # written on the primary, not acknowledged in time
            written, short = exc.answers, exc
        except (RedisConnectionError, RedisTimeoutError):
            # No command text in these, and callers (the CLI's exit 4) tell them apart. The
            # round trip's jobs may or may not be on the queue; again under the same ids is safe.
            raise
        except RedisError as exc:
            failure = _mapped(exc, _ids(before), unknown=True)
        if failure is None:
            errors = [r for r in written if isinstance(r, RedisError)]
            done = [*_ids(before)]
            for chunk, flags in zip(calls, written, strict=True):
                if not isinstance(flags, RedisError):
                    done += [i for (i, *_), ok in zip(chunk, flags, strict=True) if ok == 1]
            if errors:
                failure = _mapped(errors[0], done, unknown=False)
            elif short is not None:
                failure = QueueUnavailableError(
                    f"{short} (STORAGE_JOBS_REDIS_WAIT_REPLICAS): the jobs are on the primary "
                    "only; enqueueing again under the same ids is safe",
                    tuple(done),
                )
        if failure is not None:
            raise failure
        return written


def check_new_jobs(
    items: Sequence[NewJob], limits: JobLimits | None, payloads: Sequence[str] | None = None
) -> None:
    """Checks jobs before any is written (``Enqueuer.enqueue`` lists what it raises).

    ``payloads``: each job's JSON when already built (its size is then not measured again).
    """
    if bad := [i.defer_by for i in items if i.defer_by is not None and i.defer_by < 0]:
        raise ValueError(f"defer_by must be >= 0, got {bad[0]}")
    for item in items:
        if item.expires is not None and not item.expires > (item.defer_by or 0):
            raise ValueError(
                f"expires must be more than 0 seconds and than defer_by, got {item.expires}"
            )
    if wrong := [i.priority for i in items if i.priority is not None and i.priority not in LANES]:
        raise ValueError(f"priority must be one of 'high', 'normal', 'bulk'; got {wrong[0]!r}")
    for n, item in enumerate(items):
        spec_for_job(item.job)
        if limits is not None:
            size = None if payloads is None else len(payloads[n].encode())
            limits.check(item.job, payload_bytes=size)


def _chunks(prepared: Chunk) -> list[Chunk]:
    """Splits jobs into script calls of one lane, ``BATCH`` jobs and ``BATCH_BYTES`` at most."""
    chunks: list[Chunk] = []
    size = 0
    for item in prepared:
        if (
            not chunks
            or len(chunks[-1]) >= BATCH
            or size + len(item[1]) > BATCH_BYTES
            or chunks[-1][0][4] != item[4]
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item[1])
    return chunks


def _ids(answers: Sequence[tuple[str, bool]]) -> list[str]:
    return [job_id for job_id, ok in answers if ok]


def _mapped(exc: RedisError, enqueued: Sequence[str], *, unknown: bool) -> QueueUnavailableError:
    """Our error for a Redis one: its type and Redis's own first words, never the command."""
    text = redis_said(exc)[:120]
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if unknown:
        reason += " (jobs of the failed round trip may or may not be enqueued)"
    if is_redis_full(exc):
        return QueueFullError(f"Redis is full (OOM: maxmemory reached) - {reason}", tuple(enqueued))
    return QueueUnavailableError(reason, tuple(enqueued))
