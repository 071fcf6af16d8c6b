"""Dead letters: jobs that failed for good, kept in Redis until an operator acts."""

from __future__ import annotations

import base64
import builtins
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel, ValidationError

from ..errors import JobRejectedError, ReplayRefusedError
from ..jobs import JobLimits, JobModel, spec_for_name
from ._cluster import atomic
from ._enqueue import Enqueuer, NewJob
from ._keys import LANES, Priority, QueueKeys
from ._scripts import Scripts
from ._wire import decode, describe_validation_error, parse_envelope

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["MAX_KEPT_PAYLOAD", "DeadLetter", "DeadLetterStore", "ReplayRefusedError"]

MAX_KEPT_PAYLOAD = 1024 * 1024
"""Payload bytes kept per dead letter; a hostile multi-megabyte payload is truncated."""


class DeadLetter(BaseModel):
    """One job that failed for good.

    Attributes:
        job_id: The job's id.
        function: The queue function it named (may be unknown or absent for garbage).
        payload: The raw payload: text when it was UTF-8, else base64 (``payload_encoding``).
        payload_encoding: ``utf-8`` or ``base64``.
        payload_truncated: True when the payload was cut to ``MAX_KEPT_PAYLOAD`` bytes.
        error_type: The exception type, or a reason of ours (``InvalidPayload``...).
        code: The storage error code, when there was one.
        message: What went wrong.
        attempts: Attempts made.
        failed_at: Unix time of the final failure.
        priority: The priority it was enqueued with (None: none given); a replay keeps it.
    """

    job_id: str
    function: str | None = None
    payload: str | None = None
    payload_encoding: str = "utf-8"
    payload_truncated: bool = False
    error_type: str
    code: str | None = None
    message: str = ""
    attempts: int = 0
    failed_at: float
    priority: Priority | None = None

    def raw_payload(self) -> bytes | None:
        """The payload bytes as they were found in Redis."""
        if self.payload is None:
            return None
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()

    def job(self) -> JobModel:
        """The job this dead letter's payload describes, validated again.

        The payload is either the job model's JSON (a job that ran and failed) or arq's whole
        job envelope ``{"f": ..., "a": [...]}`` (a job failed before it could run).

        Raises:
            ReplayRefusedError: If the payload is missing, truncated, not JSON (a pickle,
                garbage), names no known job function, or does not validate.
        """
        raw = self.raw_payload()
        if raw is None:
            raise ReplayRefusedError(self.job_id, "invalid_payload", "no payload was kept")
        if self.payload_truncated:
            raise ReplayRefusedError(self.job_id, "invalid_payload", "the payload was truncated")
        try:
            data = decode(raw)
            if "kind" in data:  # the model's own JSON
                function, model_json = self.function, raw.decode()
            else:
                envelope = parse_envelope(raw)
                function, model_json = envelope.function, envelope.payload
        except ValueError as exc:
            raise ReplayRefusedError(self.job_id, "invalid_payload", str(exc)) from None
        spec = spec_for_name(function) if function else None
        if spec is None:
            raise ReplayRefusedError(
                self.job_id, "invalid_payload", f"unknown job function {function!r}"
            )
        try:
            # The model's ``kind`` literal also refuses a payload of another kind.
            return spec.model.model_validate_json(model_json)
        except ValidationError as exc:
            detail = describe_validation_error(exc, limit=5)
            raise ReplayRefusedError(self.job_id, "invalid_payload", detail) from None


def encode_payload(raw: bytes | None) -> tuple[str | None, str, bool]:
    """Splits raw bytes into (text, encoding, truncated) for a DeadLetter."""
    if raw is None:
        return None, "utf-8", False
    truncated = len(raw) > MAX_KEPT_PAYLOAD
    raw = raw[:MAX_KEPT_PAYLOAD]
    try:
        return raw.decode("utf-8"), "utf-8", truncated
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), "base64", truncated


class DeadLetterStore:
    """The dead letters of one queue."""

    def __init__(self, redis: Redis, queue_name: str, *, scripts: Scripts | None = None) -> None:
        """Binds the store; ``scripts``: the queue's on ``redis`` (a replay enqueues)."""
        self.redis = redis
        self.keys = QueueKeys(queue_name)
        self.scripts = scripts

    async def add(
        self,
        *,
        job_id: str,
        function: str | None,
        raw_payload: bytes | None,
        error_type: str,
        message: str,
        code: str | None = None,
        attempts: int = 0,
        priority: str | None = None,
    ) -> DeadLetter:
        """Stores (or replaces) the dead letter of a job."""
        payload, encoding, truncated = encode_payload(raw_payload)
        letter = DeadLetter(
            job_id=job_id,
            function=function,
            payload=payload,
            payload_encoding=encoding,
            payload_truncated=truncated,
            error_type=error_type,
            code=code,
            message=message[:4000],
            attempts=attempts,
            failed_at=time.time(),
            priority=priority if priority in LANES else None,
        )
        async with atomic(self.redis) as tx:
            tx.hset(self.keys.dead_data, job_id, letter.model_dump_json())
            tx.zadd(self.keys.dead_index, {job_id: letter.failed_at})
            await tx.execute()
        return letter

    async def get(self, job_id: str) -> DeadLetter | None:
        """One dead letter, if there is one for this job."""
        raw = await cast(Awaitable[bytes | None], self.redis.hget(self.keys.dead_data, job_id))
        return None if raw is None else DeadLetter.model_validate_json(raw)

    async def get_many(self, job_ids: builtins.list[str]) -> builtins.list[DeadLetter]:
        """The dead letters of these jobs (one ``HMGET``), in order; missing ones left out."""
        if not job_ids:
            return []
        raws = await cast(
            Awaitable[builtins.list[bytes | None]], self.redis.hmget(self.keys.dead_data, job_ids)
        )
        return [DeadLetter.model_validate_json(r) for r in raws if r is not None]

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        ids = await self.redis.zrange(self.keys.dead_index, offset, offset + limit - 1)
        if not ids:
            return []
        raws = await cast(Awaitable[list[bytes | None]], self.redis.hmget(self.keys.dead_data, ids))
        return [DeadLetter.model_validate_json(r) for r in raws if r is not None]

    async def ids(self) -> builtins.list[str]:
        """Every dead-lettered job id, oldest first."""
        ids = await self.redis.zrange(self.keys.dead_index, 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def count(self) -> int:
        """How many dead letters there are."""
        return int(await self.redis.zcard(self.keys.dead_index))

    async def drop(self, job_id: str) -> bool:
        """Forgets a dead letter; True if there was one."""
        async with atomic(self.redis) as tx:
            tx.hdel(self.keys.dead_data, job_id)
            tx.zrem(self.keys.dead_index, job_id)
            removed, _ = await tx.execute()
        return bool(removed)

    async def replay(self, job_id: str, *, limits: JobLimits, result_ttl: float) -> bool:
        """Enqueues a dead letter's job again, under its id, with a fresh attempt count.

        The payload is validated again (and checked against the limits) before anything
        changes. Then the old result, the attempt counter and the dead letter are removed, and
        the job goes through the enqueue primitive. If that fails, the dead letter is put back.

        Args:
            job_id: The dead-lettered job.
            limits: The producer's configured limits.
            result_ttl: Seconds the new job's result is kept.

        Returns:
            True (the job is queued again).

        Raises:
            ReplayRefusedError: If there is no such dead letter, its payload is not a valid job,
                it breaks a configured limit, or a job with this id is queued or running.
        """
        letter = await self.get(job_id)
        if letter is None:
            raise ReplayRefusedError(job_id, "not_found", "no dead letter with this id")
        job = letter.job()
        try:
            limits.check(job)
        except JobRejectedError as exc:
            raise ReplayRefusedError(job_id, "rejected", str(exc)) from None
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(keys.job(job_id), keys.in_progress(job_id))
            for lane in keys.lanes:
                pipe.zscore(lane, job_id)
            busy, *scores = await pipe.execute()
        if busy or any(score is not None for score in scores):
            raise ReplayRefusedError(job_id, "in_flight", "a job with this id is queued or running")
        failed_at = await self.redis.zscore(keys.dead_index, job_id)
        async with atomic(self.redis) as tx:
            tx.delete(keys.result(job_id), keys.retry(job_id))
            tx.hdel(keys.dead_data, job_id)
            tx.zrem(keys.dead_index, job_id)
            await tx.execute()
        try:
            enqueuer = Enqueuer(self.redis, keys.queue, result_ttl=result_ttl, scripts=self.scripts)
            new = NewJob(job, job_id, priority=letter.priority)  # back into its lane
            ((_, enqueued),) = await enqueuer.enqueue([new])
        except BaseException:
            await self._restore(letter, failed_at)
            raise
        if not enqueued:
            # Someone enqueued this id between our check and now: that job stands.
            raise ReplayRefusedError(job_id, "in_flight", "a job with this id was just enqueued")
        return True

    async def _restore(self, letter: DeadLetter, failed_at: float | None) -> None:
        async with atomic(self.redis) as tx:
            tx.hset(self.keys.dead_data, letter.job_id, letter.model_dump_json())
            tx.zadd(self.keys.dead_index, {letter.job_id: failed_at or letter.failed_at})
            await tx.execute()
