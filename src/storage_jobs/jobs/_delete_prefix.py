"""DeletePrefixJob: delete everything under a prefix, batch by batch, reported per key."""

from __future__ import annotations

from ._context import JobContext
from ._delete import run_delete_keys
from ._fanout import FanOut, Page, listing_pages, run_fan_out, version_pages
from ._job_control import JobCancelled
from ._manifest import manifest_pages
from ._prefix_models import DeletePrefixBatchJob, DeletePrefixJob, ObjectRef
from ._prefix_results import BatchResult, DeletePrefixResult
from ._report import report_line

__all__ = ["run_delete_prefix", "run_delete_prefix_batch"]


async def run_delete_prefix(job: DeletePrefixJob, ctx: JobContext) -> DeletePrefixResult:
    """Runs the coordinator of a prefix delete (the batches run as their own jobs)."""
    store = ctx.state.progress(ctx.job_id)
    await store.start("delete_prefix", job.dry_run)

    keep = job.object_filter()

    def make_batch(number: int, page: Page) -> DeletePrefixBatchJob:
        chosen = [
            o
            for o in page.objects
            if keep.selected(o.key[len(job.prefix) :], o.size, o.last_modified, o.storage_class)
        ]
        names = {id(o) for o in chosen}
        return DeletePrefixBatchJob(
            migration_id=ctx.job_id,
            batch=number,
            spec=job,
            keys=[o.key for o in chosen],
            version_ids=_version_ids(job, chosen),
            filtered=[o.key for o in page.objects if id(o) not in names],
            rejected=page.rejected,
        )

    if job.manifest is not None:
        pages = manifest_pages(
            ctx.storage,
            job.manifest,
            src_bucket=job.bucket,
            src_prefix=job.prefix,
            page_size=job.batch_size,
        )
    elif job.all_versions:
        pages = version_pages(ctx.storage, job.bucket, job.prefix, job.batch_size)
    else:
        pages = listing_pages(ctx.storage, job.bucket, job.prefix, job.batch_size)

    def batch_keys(payload: str) -> tuple[str, list[str]]:
        return job.bucket, DeletePrefixBatchJob.model_validate_json(payload).keys

    progress = await run_fan_out(
        ctx,
        store,
        FanOut(
            pages=pages,
            bucket=job.bucket,
            make_batch=make_batch,
            batch_keys=batch_keys,
            report_bucket=ctx.report_bucket or job.bucket,
            report_name=f"delete-prefix/{ctx.job_id}.jsonl",
        ),
    )
    return DeletePrefixResult(
        migration_id=ctx.job_id,
        dry_run=job.dry_run,
        listed=progress.listed,
        deleted=progress.done,
        failed=progress.failed,
        rejected=progress.rejected,
        filtered=progress.filtered,
        report_bucket=progress.report_bucket,
        report_key=progress.report_key,
    )


async def run_delete_prefix_batch(job: DeletePrefixBatchJob, ctx: JobContext) -> BatchResult:
    """Deletes one page of a prefix delete, with DeleteJob's per-key retries."""
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    rejected = len(job.rejected)
    filtered = await _record_filtered(job, ctx)
    if spec.dry_run:
        lines = (
            [
                report_line(spec.bucket, k, "would_delete", version_id=v or None)
                for k, v in zip(job.keys, job.version_ids or [""] * len(job.keys), strict=True)
            ]
            if spec.report == "all"
            else []
        )
        await store.finish_batch(
            job.batch, done=len(job.keys), rejected=rejected, lines=[*job.rejected, *lines]
        )
        # Nothing was deleted: the would-be count lives in the parent's progress only.
        return BatchResult(
            of="delete_prefix",
            migration_id=job.migration_id,
            batch=job.batch,
            done=0,
            filtered=filtered,
        )
    if job.version_ids:
        return await _delete_versions_batch(job, ctx, filtered)
    if not job.keys:
        await store.finish_batch(job.batch, rejected=rejected, lines=job.rejected)
        return BatchResult(
            of="delete_prefix",
            migration_id=job.migration_id,
            batch=job.batch,
            done=0,
            filtered=filtered,
        )
    try:
        result = await run_delete_keys(ctx, bucket=spec.bucket, keys=job.keys, scope="prefix")
    except JobCancelled as exc:
        # Stopped part-way: what it deleted counts in the parent's progress and report.
        deleted: list[str] = exc.progress.get("deleted_keys", [])
        lines = [report_line(spec.bucket, k, "deleted") for k in deleted]
        await store.finish_batch(
            job.batch, done=len(deleted), lines=lines if spec.report == "all" else []
        )
        raise JobCancelled({"batch": job.batch, "done": len(deleted)}) from None
    failed = {f.key: f for f in result.failed}
    lines = [report_line(spec.bucket, f.key, "failed", f.code, f.message) for f in result.failed]
    if spec.report == "all":
        lines += [report_line(spec.bucket, k, "deleted") for k in job.keys if k not in failed]
    await store.finish_batch(
        job.batch,
        done=result.deleted_count,
        failed=len(failed),
        rejected=rejected,
        lines=[*job.rejected, *lines],
    )
    return BatchResult(
        of="delete_prefix",
        migration_id=job.migration_id,
        batch=job.batch,
        done=result.deleted_count,
        failed=len(failed),
        filtered=filtered,
    )


async def _delete_versions_batch(
    job: DeletePrefixBatchJob, ctx: JobContext, filtered: int
) -> BatchResult:
    """Deletes exact versions and delete markers; a failed version is reported with its id.

    A manifest's lines without a version id ("") delete the current object (a delete marker,
    in a versioned bucket) in the same requests.
    """
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    versions = list(zip(job.keys, job.version_ids, strict=True))
    failures = await ctx.storage.delete_versions(bucket=spec.bucket, versions=versions)
    failed = {(f["key"], f["version_id"]) for f in failures}
    lines = [
        report_line(
            spec.bucket, f["key"], "failed", f["code"], f["message"], version_id=f["version_id"]
        )
        for f in failures
    ]
    if spec.report == "all":
        lines += [
            report_line(spec.bucket, k, "deleted", version_id=v or None)
            for k, v in versions
            if (k, v) not in failed
        ]
    done = len(versions) - len(failed)
    await store.finish_batch(job.batch, done=done, failed=len(failed), lines=lines)
    return BatchResult(
        of="delete_prefix",
        migration_id=job.migration_id,
        batch=job.batch,
        done=done,
        failed=len(failed),
        filtered=filtered,
    )


def _version_ids(job: DeletePrefixJob, chosen: list[ObjectRef]) -> list[str]:
    """The version to delete of each chosen key: all listed ones, or a manifest's ids.

    Empty when no key names a version, so the batch takes the per-key-retry path for keys.
    """
    if job.all_versions:
        return [o.version_id or "null" for o in chosen]
    if any(o.version_id for o in chosen):
        return [o.version_id or "" for o in chosen]
    return []


async def _record_filtered(job: DeletePrefixBatchJob, ctx: JobContext) -> int:
    """Counts (once per key) the keys of the page the filters left out; returns how many."""
    store = ctx.state.progress(job.migration_id)
    # Their done bits sit past the batch's deletable keys, so a re-run counts none twice.
    offset = len(job.keys)
    recorded = await store.recorded(job.batch, offset + len(job.filtered))
    counted = 0
    for i, key in enumerate(job.filtered):
        if offset + i in recorded:
            continue
        line = report_line(job.spec.bucket, key, "filtered") if job.spec.report == "all" else ""
        counted += await store.record_key(job.batch, offset + i, "filtered", 0, line)
    return counted
