"""Dead letters: jobs that failed for good, kept in Redis until an operator acts."""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from ._keys import QueueKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DeadLetter", "DeadLetterStore"]

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

    def raw_payload(self) -> bytes | None:
        """The payload bytes as they were found in Redis."""
        if self.payload is None:
            return None
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()


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

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self.redis = redis
        self.keys = QueueKeys(queue_name)

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
        )
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset(self.keys.dead_data, job_id, letter.model_dump_json())
            tx.zadd(self.keys.dead_index, {job_id: letter.failed_at})
            await tx.execute()
        return letter

    async def get(self, job_id: str) -> DeadLetter | None:
        """One dead letter, if there is one for this job."""
        raw = await cast(Awaitable[bytes | None], self.redis.hget(self.keys.dead_data, job_id))
        return None if raw is None else DeadLetter.model_validate_json(raw)

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        ids = await self.redis.zrange(self.keys.dead_index, offset, offset + limit - 1)
        if not ids:
            return []
        raws = await cast(Awaitable[list[bytes | None]], self.redis.hmget(self.keys.dead_data, ids))
        return [DeadLetter.model_validate_json(r) for r in raws if r is not None]

    async def count(self) -> int:
        """How many dead letters there are."""
        return int(await self.redis.zcard(self.keys.dead_index))

    async def drop(self, job_id: str) -> bool:
        """Forgets a dead letter; True if there was one."""
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hdel(self.keys.dead_data, job_id)
            tx.zrem(self.keys.dead_index, job_id)
            removed, _ = await tx.execute()
        return bool(removed)
