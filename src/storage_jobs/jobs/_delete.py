"""DeleteJob: batched deletes with per-key retries and crash-safe progress.

State in Redis (keys from ``state_key``), written after each DeleteObjects answer:

- ``delete:done``    bitmap: first-round batches already answered (never sent again)
- ``delete:retry``   set: keys that failed with a retryable code, still to retry
- ``delete:last``    hash: key -> last retryable error (JSON), for the final report
- ``delete:failed``  hash: key -> final error (JSON): permanent, or retries exhausted
- ``delete:round``   the retry round reached

A worker that dies mid-job loses at most the batches in flight; a re-run resumes from this state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Sequence
from typing import cast

from ..storage import DELETE_BATCH_SIZE, StoragePartialDeleteError
from ..storage._bulk import gather_or_cancel
from ._context import JobContext, state_key
from ._models import DeleteJob
from ._results import DeleteFailure, DeleteResult
from ._retry import is_retryable_code

__all__ = ["run_delete", "run_delete_keys"]


async def run_delete(job: DeleteJob, ctx: JobContext) -> DeleteResult:
    """Runs a DeleteJob."""
    return await run_delete_keys(ctx, bucket=job.bucket, keys=job.keys, scope="delete")


async def run_delete_keys(
    ctx: JobContext, *, bucket: str, keys: Sequence[str], scope: str
) -> DeleteResult:
    """Deletes keys with per-key retries, resuming from state persisted under ``scope``."""
    unique = list(dict.fromkeys(keys))
    state = _DeleteState(ctx, scope)
    batches = [unique[i : i + DELETE_BATCH_SIZE] for i in range(0, len(unique), DELETE_BATCH_SIZE)]
    done = await state.done_batches(len(batches))
    slots = asyncio.Semaphore(ctx.storage.config.delete_concurrency)

    async def first_round(index: int, batch: list[str]) -> None:
        async with slots:
            errors = await _delete(ctx, bucket, batch)
            await state.record(errors, batch_index=index, round_=1)

    await gather_or_cancel([first_round(i, b) for i, b in enumerate(batches) if i not in done])
    round_ = max(await state.round(), 1)
    while pending := await state.pending():
        if round_ >= ctx.retry.max_attempts:
            await state.give_up(pending)
            break
        round_ += 1
        await state.set_round(round_)
        delay = ctx.retry.delay(round_ - 1)
        ctx.log.info(
            "delete.retry_round",
            bucket=bucket,
            round=round_,
            keys=len(pending),
            delay_s=round(delay, 3),
        )
        await asyncio.sleep(delay)
        for start in range(0, len(pending), DELETE_BATCH_SIZE):
            batch = pending[start : start + DELETE_BATCH_SIZE]
            errors = await _delete(ctx, bucket, batch)
            await state.record(errors, retried=batch, round_=round_)
    failed = await state.failures()
    await state.expire_soon()
    result = DeleteResult(
        bucket=bucket,
        deleted_count=len(unique) - len(failed),
        failed=sorted(failed, key=lambda f: f.key),
        attempts=round_,
    )
    log = ctx.log.warning if failed else ctx.log.info
    log(
        "delete.done",
        bucket=bucket,
        keys=len(unique),
        deleted=result.deleted_count,
        failed=len(failed),
        attempts=round_,
    )
    return result


async def _delete(ctx: JobContext, bucket: str, batch: list[str]) -> list[dict[str, str]]:
    try:
        await ctx.storage.delete_files(bucket=bucket, keys=batch)
    except StoragePartialDeleteError as exc:
        retryable = sum(is_retryable_code(e["code"]) for e in exc.errors)
        ctx.log.warning(
            "delete.partial_failure",
            bucket=bucket,
            batch_keys=len(batch),
            deleted=len(exc.deleted),
            failed=len(exc.errors),
            retryable=retryable,
            permanent=len(exc.errors) - retryable,
            errors=exc.errors,
        )
        return exc.errors
    return []


class _DeleteState:
    """The crash-safe progress of one delete, in Redis."""

    def __init__(self, ctx: JobContext, scope: str) -> None:
        self.redis = ctx.redis
        self.ttl = ctx.state_ttl

        def name(part: str) -> str:
            return state_key(ctx.job_id, f"{scope}:{part}")

        self.done_key, self.retry_key = name("done"), name("retry")
        self.last_key, self.failed_key = name("last"), name("failed")
        self.round_key = name("round")
        self.keys = [self.done_key, self.retry_key, self.last_key, self.failed_key, self.round_key]

    async def done_batches(self, count: int) -> set[int]:
        raw = await self.redis.get(self.done_key) or b""
        return {i for i in range(count) if i // 8 < len(raw) and raw[i // 8] & (0x80 >> (i % 8))}

    async def round(self) -> int:
        return int(await self.redis.get(self.round_key) or 0)

    async def set_round(self, round_: int) -> None:
        await self.redis.set(self.round_key, round_, ex=self.ttl)

    async def pending(self) -> list[str]:
        # redis-py types its asyncio replies as "value or awaitable"; they are awaitables here.
        members = await cast(Awaitable[set[bytes]], self.redis.smembers(self.retry_key))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def record(
        self,
        errors: list[dict[str, str]],
        *,
        round_: int,
        batch_index: int | None = None,
        retried: list[str] | None = None,
    ) -> None:
        """Stores one DeleteObjects answer atomically."""
        retry = {e["key"]: e for e in errors if is_retryable_code(e["code"])}
        final = {e["key"]: e for e in errors if e["key"] not in retry}
        async with self.redis.pipeline(transaction=True) as tx:
            if batch_index is not None:
                tx.setbit(self.done_key, batch_index, 1)
            if retried:
                # Deleted or permanently failed keys leave the retry set; still-failing ones stay.
                gone = [k for k in retried if k not in retry]
                if gone:
                    tx.srem(self.retry_key, *gone)
                    tx.hdel(self.last_key, *gone)
            if retry:
                tx.sadd(self.retry_key, *retry)
                tx.hset(self.last_key, mapping={k: json.dumps(e) for k, e in retry.items()})
            if final:
                tx.hset(self.failed_key, mapping={k: json.dumps(e) for k, e in final.items()})
            if round_ == 1:
                tx.setnx(self.round_key, 1)
            for key in self.keys:
                tx.expire(key, self.ttl)
            await tx.execute()

    async def give_up(self, pending: list[str]) -> None:
        """Moves keys whose retries are exhausted to the final failures."""
        last = await cast(Awaitable[list[bytes | None]], self.redis.hmget(self.last_key, pending))
        mapping: dict[str, str | bytes] = {
            key: raw or json.dumps({"key": key, "code": "Unknown", "message": ""})
            for key, raw in zip(pending, last, strict=True)
        }
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset(self.failed_key, mapping=mapping)
            tx.srem(self.retry_key, *pending)
            await tx.execute()

    async def failures(self) -> list[DeleteFailure]:
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.failed_key))
        return [DeleteFailure.model_validate_json(v) for v in raw.values()]

    async def expire_soon(self) -> None:
        # Kept a little while: a crash between here and storing the result re-runs the job,
        # which must then find everything done instead of deleting again.
        async with self.redis.pipeline(transaction=False) as tx:
            for key in self.keys:
                tx.expire(key, 3600)
            await tx.execute()
