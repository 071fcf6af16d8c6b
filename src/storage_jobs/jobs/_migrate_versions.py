"""A migration of every version: each key's history copied oldest first, in one batch.

Versions are copied server-side with ``CopySource.VersionId`` into a versioned destination, so
the destination's history of a key has the source's order (non-current versions first, the
current one last); a delete marker is replayed as a delete, which writes a marker there. Each
version's outcome is recorded once; a batch re-run after a crash repeats at most the versions
that were in flight (a version cannot be found identical, so those are copied again).

Between versions are the safe points of the other batches: a cancel or a pause stops the batch
there, and so does the failure threshold once crossed (a key's history may then stop part-way:
the report lists each version copied).
"""

from __future__ import annotations

import asyncio
from itertools import groupby

from ..storage import AttributeLoss, StorageError
from ..storage._bulk import gather_or_cancel
from ._context import JobContext
from ._job_control import halt_error, halted
from ._migrate_copy import kept_attributes
from ._prefix_models import MigrateBatchJob, MigrateJob, ObjectRef
from ._prefix_results import BatchResult
from ._report import report_line
from ._retry import is_retryable

__all__ = ["run_migrate_versions_batch"]

_KEYS_IN_FLIGHT = 8


async def run_migrate_versions_batch(job: MigrateBatchJob, ctx: JobContext) -> BatchResult:
    """Copies the versions of one page, key by key in parallel, each key's oldest first."""
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    recorded = await store.recorded(job.batch, len(job.objects))
    keep = spec.object_filter()
    slots = asyncio.Semaphore(_KEYS_IN_FLIGHT)
    counts = dict.fromkeys(("done", "failed", "filtered"), 0)
    counts["bytes"] = counts["attributes_lost"] = 0
    lost_by_name: dict[str, int] = {}
    indexed = list(enumerate(job.objects))
    threshold = spec.failure_threshold()
    stopped: str | None = None  # ``cancelled`` or ``paused``, once seen

    async def history(versions: list[tuple[int, ObjectRef]]) -> None:
        nonlocal stopped
        async with slots:
            # The listing gives a key's history newest first; replay it oldest first.
            for index, ref in reversed(versions):
                if index in recorded:
                    continue
                if stopped or (stopped := await halted(ctx.control)):
                    return
                if threshold and await store.stop_reason():
                    return
                await one(index, ref)

    async def one(index: int, ref: ObjectRef) -> None:
        relative = ref.key[len(spec.src_prefix) :]
        dst_key = spec.dst_prefix + relative
        new_version: str | None = None
        code: str | None = None
        message = ""
        lost: list[AttributeLoss] = []
        if not keep.selected(relative, ref.size, ref.last_modified, ref.storage_class):
            status = "filtered"
        elif spec.dry_run:
            status = "would_copy"
        else:
            status, new_version, code, message = await _copy_version(ctx, spec, ref, dst_key, lost)
        counter = {"copied": "done", "would_copy": "done", "deleted": "done"}.get(status, status)
        line = ""
        if lost:
            # Recorded once by name before the key, so a re-run after a crash counts it once.
            await store.record_step(f"lost:{job.batch}:{index}", counter="attributes_lost", count=1)
        if status == "failed" or spec.report == "all" or lost:
            line = report_line(
                spec.dst_bucket,
                dst_key,
                status,
                code,
                message,
                src_key=ref.key,
                size=ref.size,
                src_version_id=ref.version_id,
                version_id=new_version,
                lost=[str(x) for x in lost],
            )
        size = (ref.size or 0) if status == "copied" else 0
        if await store.record_key(job.batch, index, counter, size, line, threshold=threshold):
            counts[counter] += 1
            counts["bytes"] += size
            if lost:
                counts["attributes_lost"] += 1
                for loss in lost:
                    lost_by_name[loss.attribute] = lost_by_name.get(loss.attribute, 0) + 1

    by_key = [list(group) for _, group in groupby(indexed, key=lambda item: item[1].key)]
    await gather_or_cancel([history(versions) for versions in by_key])
    if stopped:
        # Every version copied so far is recorded in the migration's progress already.
        raise halt_error(stopped, {"batch": job.batch, **counts})
    await store.finish_batch(job.batch, rejected=len(job.rejected), lines=job.rejected)
    return BatchResult(
        migration_id=job.migration_id, batch=job.batch, lost_attributes=lost_by_name, **counts
    )


async def _copy_version(
    ctx: JobContext, spec: MigrateJob, ref: ObjectRef, dst_key: str, lost: list[AttributeLoss]
) -> tuple[str, str | None, str | None, str]:
    """Copies (or replays the delete marker of) one version: (status, new version, code, msg).

    The copy carries what the version does; what the destination could not keep goes in
    ``lost``.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            if ref.delete_marker:
                await ctx.storage.delete_file(bucket=spec.dst_bucket, key=dst_key)
                return "deleted", None, None, "delete marker replayed"
            head = await ctx.storage.head_object(
                bucket=spec.src_bucket, key=ref.key, version_id=ref.version_id
            )
            info = await ctx.storage.copy_object(
                src_bucket=spec.src_bucket,
                src_key=ref.key,
                dst_bucket=spec.dst_bucket,
                dst_key=dst_key,
                size=ref.size,
                src_version_id=ref.version_id,
                attributes=kept_attributes(spec, head),
                required=spec.required(),
            )
            lost[:] = info.lost
            return "copied", info.version_id, None, ""
        except StorageError as exc:
            if is_retryable(exc) and ctx.object_retry.should_retry(attempt):
                await asyncio.sleep(ctx.object_retry.delay(attempt))
                continue
            return "failed", None, exc.code, exc.message
