"""A migration's sync step: delete destination keys the source lacks, behind ``max_delete``.

Runs in the coordinator after every batch finished, and only if every copy succeeded (a
failed copy would make its destination key look extraneous to nobody, but a sync that half
worked is not the moment to delete). It walks the listings twice: once to count, so a sync
past ``max_delete`` deletes nothing, then to delete in rounds of 1,000 with DeleteJob's per-key
retries, each round recorded once. Keys written between the two walks never take the deletes
past ``max_delete``: the second walk stops deleting there and the sync fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..errors import TooManyDeletesError
from ..storage import ObjectInfo, StorageClient
from ._context import JobContext
from ._delete import run_delete_keys
from ._extraneous import iter_extraneous
from ._prefix_models import MigrateJob
from ._report import report_line
from ._state import ProgressStore

__all__ = ["delete_extraneous"]

_ROUND = 1000


async def delete_extraneous(
    ctx: JobContext,
    store: ProgressStore,
    job: MigrateJob,
    source: StorageClient,
    *,
    skip_prefix: str | None,
) -> None:
    """Deletes (or, in a dry run, lists) the extraneous destination keys.

    Raises:
        TooManyDeletesError: If more than ``job.max_delete`` keys would go: none are deleted
            when the count finds them, at most ``max_delete`` when they appear after it.
    """
    progress = await store.read()
    if progress.failed:
        ctx.log.warning("migrate.sync_skipped", failed=progress.failed)
        await _note(
            store,
            job,
            "skipped",
            None,
            f"{progress.failed} keys failed: no extraneous key was deleted",
        )
        return
    keep = job.object_filter()

    def walk() -> AsyncIterator[ObjectInfo]:
        return iter_extraneous(
            source,
            job.src_bucket,
            job.src_prefix,
            ctx.storage,
            job.dst_bucket,
            job.dst_prefix,
            keep,
            skip_prefix=skip_prefix,
        )

    count = 0
    async for _ in walk():
        count += 1
    limit = None if job.dry_run else job.max_delete
    # A coordinator re-run after a crash in this phase counts what its first run left.
    already = progress.extraneous_deleted
    if limit is not None and count + already > limit:
        raise TooManyDeletesError(count + already, limit)
    if job.dry_run and job.max_delete is not None and count + already > job.max_delete:
        # The plan lists every key, and says the real run would refuse them all.
        ctx.log.warning("migrate.sync_would_refuse", extraneous=count, max_delete=job.max_delete)
        refusal = TooManyDeletesError(count + already, job.max_delete)
        await _note(store, job, "would_refuse", "TooManyDeletesError", str(refusal))
    ctx.log.info("migrate.sync", extraneous=count, dry_run=job.dry_run)
    keys: list[str] = []
    seen = deleted = 0
    async for obj in walk():
        seen += 1
        if limit is not None and seen + already > limit:
            # Written since the count: the limit holds whatever the listing says now.
            continue
        keys.append(obj.key)
        if len(keys) == _ROUND:
            deleted += await _delete_round(ctx, store, job, keys)
            keys = []
    if keys:
        deleted += await _delete_round(ctx, store, job, keys)
    if limit is not None and seen + already > limit:
        raise TooManyDeletesError(seen + already, limit, deleted + already)


async def _note(
    store: ProgressStore, job: MigrateJob, what: str, code: str | None, message: str
) -> None:
    """Records the sync's one ``sync_<what>`` report line, on its destination prefix."""
    line = report_line(job.dst_bucket, job.dst_prefix, f"sync_{what}", code, message)
    await store.record_step(
        f"extraneous:{what}", counter="extraneous_deleted", count=0, lines=[line]
    )


async def _delete_round(
    ctx: JobContext, store: ProgressStore, job: MigrateJob, keys: list[str]
) -> int:
    """Deletes (or lists) one round of keys; returns how many went."""
    step = f"extraneous:{keys[0]}"
    if job.dry_run:
        lines = [report_line(job.dst_bucket, k, "would_delete_extraneous") for k in keys]
        await store.record_step(step, counter="extraneous_deleted", count=len(keys), lines=lines)
        return 0
    result = await run_delete_keys(ctx, bucket=job.dst_bucket, keys=keys, scope=step)
    failed = {f.key: f for f in result.failed}
    lines = [report_line(job.dst_bucket, f.key, "failed", f.code, f.message) for f in result.failed]
    lines += [report_line(job.dst_bucket, k, "extraneous_deleted") for k in keys if k not in failed]
    await store.record_step(
        step, counter="extraneous_deleted", count=len(keys) - len(failed), lines=lines
    )
    if failed:
        await store.record_step(f"{step}:failed", counter="failed", count=len(failed))
    return len(keys) - len(failed)
