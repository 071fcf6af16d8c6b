"""DeleteJob: batched deletes with per-key retries and crash-safe progress.

Progress is recorded (``ctx.state.delete``, see ``DeleteState``) after each DeleteObjects
answer: batches answered, keys still to retry, final failures and the round reached. A worker
that dies mid-job loses at most the batches in flight; a re-run resumes from this state.

A cancel is obeyed before each DeleteObjects request: requests in flight are answered and
recorded (never abandoned half-way), none is sent after, and ``JobCancelled`` carries the count
and the keys deleted so far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ..storage import DELETE_BATCH_SIZE, StoragePartialDeleteError
from ..storage._bulk import gather_or_cancel
from ._context import JobContext
from ._job_control import JobCancelled
from ._models import DeleteJob
from ._results import DeleteFailure, DeleteResult
from ._retry import is_retryable_code
from ._state import DeleteState

__all__ = ["run_delete", "run_delete_keys"]


async def run_delete(job: DeleteJob, ctx: JobContext) -> DeleteResult:
    """Runs a DeleteJob."""
    return await run_delete_keys(ctx, bucket=job.bucket, keys=job.keys, scope="delete")


async def run_delete_keys(
    ctx: JobContext, *, bucket: str, keys: Sequence[str], scope: str
) -> DeleteResult:
    """Deletes keys with per-key retries, resuming from state persisted under ``scope``."""
    unique = list(dict.fromkeys(keys))
    state = ctx.state.delete(ctx.job_id, scope)
    batches = [unique[i : i + DELETE_BATCH_SIZE] for i in range(0, len(unique), DELETE_BATCH_SIZE)]
    done = await state.done_batches(len(batches))
    slots = asyncio.Semaphore(ctx.storage.config.delete_concurrency)

    stopped = False

    async def first_round(index: int, batch: list[str]) -> None:
        nonlocal stopped
        async with slots:
            if stopped or await ctx.control.cancelled():
                stopped = True
                return
            errors = await _delete(ctx, bucket, batch)
            retry, final = _split(errors)
            await state.record(retry=retry, final=final, batch_index=index, round_=1)

    await gather_or_cancel([first_round(i, b) for i, b in enumerate(batches) if i not in done])
    if stopped:
        raise JobCancelled(await _deleted_so_far(state, batches))
    round_ = max(await state.round(), 1)
    while pending := await state.pending():
        if await ctx.control.cancelled():
            raise JobCancelled(await _deleted_so_far(state, batches))
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
            retry, final = _split(errors)
            await state.record(retry=retry, final=final, retried=batch, round_=round_)
    failed = [DeleteFailure.model_validate_json(raw) for raw in await state.failures()]
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


async def _deleted_so_far(state: DeleteState, batches: list[list[str]]) -> dict[str, Any]:
    """The keys deleted so far: those of answered batches, less the ones that failed."""
    done = await state.done_batches(len(batches))
    failed = set(await state.pending())
    failed |= {DeleteFailure.model_validate_json(raw).key for raw in await state.failures()}
    deleted = [k for i in sorted(done) for k in batches[i] if k not in failed]
    return {"deleted_count": len(deleted), "deleted_keys": deleted}


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


def _split(
    errors: list[dict[str, str]],
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Splits per-key errors into those worth another round and those final."""
    retry = {e["key"]: e for e in errors if is_retryable_code(e["code"])}
    final = {e["key"]: e for e in errors if e["key"] not in retry}
    return retry, final
