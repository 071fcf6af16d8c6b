"""MigrateJob: copy a prefix to another bucket/prefix/endpoint, resumably, reported per key."""

from __future__ import annotations

import asyncio

from ..storage import AttributeLoss, StorageClient
from ..storage._bulk import gather_or_cancel
from ._context import JobContext
from ._fanout import FanOut, Page, listing_pages, run_fan_out, version_pages
from ._job_control import JobWaiting, halt_error, halted
from ._manifest import manifest_pages
from ._migrate_object import Outcome, migrate_one
from ._migrate_sync import delete_extraneous
from ._migrate_versions import run_migrate_versions_batch
from ._prefix_models import MigrateBatchJob, MigrateJob, ObjectRef
from ._prefix_results import BatchResult, MigrateResult
from ._report import report_line
from ._restore import NOT_RESTORED, archived, restore_step

__all__ = ["run_migrate", "run_migrate_batch", "source_for"]

_SAME_ENDPOINT_CONCURRENCY = 8
# Each cross-endpoint copy holds one part-sized buffer per part in flight (at least the
# multipart threshold's worth): 4 x 8 MiB by default.
_CROSS_ENDPOINT_CONCURRENCY = 4

# Outcome -> (counter, second counter) in the job's progress.
_COUNTERS = {
    "copied": ("done", ""),
    "would_copy": ("done", ""),
    "moved": ("done", "moved"),
    "would_move": ("done", ""),
    "skipped": ("skipped", ""),
    "would_skip": ("skipped", ""),
    "failed": ("failed", ""),
    "mismatch": ("failed", "mismatch"),
    "filtered": ("filtered", ""),
}


async def source_for(ctx: JobContext, src_endpoint: str | None) -> StorageClient:
    """The client of a prefix job's source: the worker's own, or a named source profile's."""
    if src_endpoint is None:
        return ctx.storage
    if ctx.source is None:
        raise RuntimeError("this worker has no source profiles")
    return await ctx.source(src_endpoint)


async def run_migrate(job: MigrateJob, ctx: JobContext) -> MigrateResult:
    """Runs the coordinator of a migration (the batches run as their own jobs)."""
    store = ctx.state.progress(ctx.job_id)
    await store.start("migrate", job.dry_run)
    source = await source_for(ctx, job.src_endpoint)
    # A destination empty at the first start needs no per-object HEAD before copying. The
    # answer is kept, so a resumed coordinator hands its batches the same one.
    empty_now = not await ctx.storage.list_files(
        bucket=job.dst_bucket, prefix=job.dst_prefix, max_keys=1
    )
    dst_was_empty = await store.set_once("dst_was_empty", "1" if empty_now else "0") == "1"
    report_bucket = ctx.report_bucket or job.dst_bucket

    def make_batch(number: int, page: Page) -> MigrateBatchJob:
        return MigrateBatchJob(
            migration_id=ctx.job_id,
            batch=number,
            spec=job,
            objects=page.objects,
            dst_was_empty=dst_was_empty,
            rejected=page.rejected,
        )

    def batch_keys(payload: str) -> tuple[str, list[str]]:
        batch = MigrateBatchJob.model_validate_json(payload)
        return job.src_bucket, [o.key for o in batch.objects]

    if job.manifest is not None:
        pages = manifest_pages(
            source,
            job.manifest,
            src_bucket=job.src_bucket,
            src_prefix=job.src_prefix,
            page_size=job.batch_size,
        )
    elif job.all_versions:
        pages = version_pages(source, job.src_bucket, job.src_prefix, job.batch_size)
    else:
        pages = listing_pages(source, job.src_bucket, job.src_prefix, job.batch_size)

    async def after_batches(progress: object) -> None:
        if job.delete_extraneous:
            skip = ctx.report_prefix if report_bucket == job.dst_bucket else None
            await delete_extraneous(ctx, store, job, source, skip_prefix=skip)

    progress = await run_fan_out(
        ctx,
        store,
        FanOut(
            pages=pages,
            bucket=job.src_bucket,
            make_batch=make_batch,
            batch_keys=batch_keys,
            report_bucket=report_bucket,
            report_name=f"migrate/{ctx.job_id}.jsonl",
            after_batches=after_batches,
            threshold=job.failure_threshold(),
        ),
    )
    return MigrateResult(
        migration_id=ctx.job_id,
        dry_run=job.dry_run,
        listed=progress.listed,
        copied=progress.done,
        skipped=progress.skipped,
        failed=progress.failed,
        bytes=progress.bytes,
        filtered=progress.filtered,
        rejected=progress.rejected,
        verified=progress.verified,
        mismatch=progress.mismatch,
        moved=progress.moved,
        extraneous_deleted=progress.extraneous_deleted,
        attributes_lost=progress.attributes_lost,
        report_bucket=progress.report_bucket,
        report_key=progress.report_key,
    )


async def run_migrate_batch(job: MigrateBatchJob, ctx: JobContext) -> BatchResult:
    """Copies one page of a migration, recording each key's outcome exactly once."""
    if job.spec.all_versions:
        return await run_migrate_versions_batch(job, ctx)
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    recorded = await store.recorded(job.batch, len(job.objects))
    source = await source_for(ctx, spec.src_endpoint)
    keep = spec.object_filter()
    # A re-run may meet keys copied before a crash but not yet recorded: look before copying.
    check = spec.skip_if_identical and (not job.dst_was_empty or ctx.attempt > 1)
    cross = spec.src_endpoint is not None
    slots = asyncio.Semaphore(_CROSS_ENDPOINT_CONCURRENCY if cross else _SAME_ENDPOINT_CONCURRENCY)
    counts = dict.fromkeys(
        ("done", "skipped", "failed", "filtered", "verified", "mismatch", "moved"), 0
    )
    counts["bytes"] = counts["attributes_lost"] = 0
    lost_by_name: dict[str, int] = {}
    threshold = spec.failure_threshold()
    stopped: str | None = None  # ``cancelled`` or ``paused``, once seen
    waiting = 0  # archived sources still restoring: left unrecorded for the next run
    restores = spec.restore_archived and not spec.dry_run

    async def copy_or_wait(
        obj: ObjectRef, dst_key: str, lost: list[AttributeLoss]
    ) -> Outcome | None:
        """Copies one object, adding what it could not keep to ``lost``.

        None while it is an archived source being restored.
        """
        if restores and archived(obj):
            step = await restore_step(source, spec, obj)
            if step == "wait":
                return None
            if isinstance(step, tuple):
                return "failed", 0, step[0], step[1], None
        outcome = await migrate_one(ctx, source, spec, obj, dst_key, check, keep, lost)
        if restores and outcome[2] in NOT_RESTORED and not archived(obj):
            # Archived, though the listing (a manifest line) did not say so.
            cls = obj.model_copy(update={"storage_class": "GLACIER or DEEP_ARCHIVE"})
            if await restore_step(source, spec, cls) == "wait":
                return None
        return outcome

    async def one(index: int, obj: ObjectRef) -> None:
        nonlocal stopped, waiting
        relative = obj.key[len(spec.src_prefix) :]
        dst_key = spec.dst_prefix + relative
        new_version: str | None = None
        lost: list[AttributeLoss] = []
        if not keep.key_selected(relative):
            status, size, code, message = "filtered", 0, None, ""
        else:
            async with slots:
                # A safe point: copies in flight finish and are recorded; none starts after.
                if stopped or (stopped := await halted(ctx.control)):
                    return
                # Between objects: a stopping job leaves the rest of the batch unrecorded.
                if threshold and await store.stop_reason():
                    return
                outcome = await copy_or_wait(obj, dst_key, lost)
                if outcome is None:
                    waiting += 1
                    return
                status, size, code, message, new_version = outcome
        counter, also = _COUNTERS[status]
        if status == "copied" and spec.verify:
            # Read back and proven: the report says so, as it says ``mismatch`` otherwise.
            status, also = "verified", "verified"
        line = ""
        if lost:
            # Recorded once by name before the key, so a re-run after a crash counts it once.
            await store.record_step(f"lost:{job.batch}:{index}", counter="attributes_lost", count=1)
        if status in ("failed", "mismatch") or spec.report == "all" or lost:
            line = report_line(
                spec.dst_bucket,
                dst_key,
                status,
                code,
                message,
                src_key=obj.key,
                size=obj.size,
                src_version_id=obj.version_id,
                version_id=new_version if obj.version_id else None,
                lost=[str(x) for x in lost],
            )
        if await store.record_key(job.batch, index, counter, size, line, also, threshold):
            counts[counter] += 1
            counts["bytes"] += size
            if also:
                counts[also] += 1
            if lost:
                counts["attributes_lost"] += 1
                for loss in lost:
                    lost_by_name[loss.attribute] = lost_by_name.get(loss.attribute, 0) + 1

    await gather_or_cancel([one(i, obj) for i, obj in enumerate(job.objects) if i not in recorded])
    if stopped:
        # Every key copied so far is recorded in the migration's progress already; a paused
        # batch's re-run skips those (their done bits), so nothing is copied twice.
        raise halt_error(stopped, {"batch": job.batch, **counts})
    if restores:
        await store.set_waiting(job.batch, waiting)
    if waiting:
        # Checked again later, off the queue; what it recorded is skipped then.
        raise JobWaiting(spec.restore_check_every(), {"batch": job.batch, "waiting": waiting})
    await store.finish_batch(job.batch, rejected=len(job.rejected), lines=job.rejected)
    if counts["failed"] or counts["attributes_lost"]:
        ctx.log.warning("migrate.batch_failures", batch=job.batch, lost=lost_by_name, **counts)
    return BatchResult(
        migration_id=job.migration_id, batch=job.batch, lost_attributes=lost_by_name, **counts
    )
