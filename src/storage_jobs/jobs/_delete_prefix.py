"""DeletePrefixJob: delete everything under a prefix, batch by batch, reported per key."""

from __future__ import annotations

from ..storage import ObjectInfo
from ._context import JobContext
from ._control import JobCancelled
from ._delete import run_delete_keys
from ._fanout import FanOut, run_fan_out
from ._prefix_models import DeletePrefixBatchJob, DeletePrefixJob
from ._prefix_results import BatchResult, DeletePrefixResult
from ._report import report_line

__all__ = ["run_delete_prefix", "run_delete_prefix_batch"]


async def run_delete_prefix(job: DeletePrefixJob, ctx: JobContext) -> DeletePrefixResult:
    """Runs the coordinator of a prefix delete (the batches run as their own jobs)."""
    store = ctx.state.progress(ctx.job_id)
    await store.start("delete_prefix", job.dry_run)

    def make_batch(number: int, page: list[ObjectInfo]) -> DeletePrefixBatchJob:
        return DeletePrefixBatchJob(
            migration_id=ctx.job_id, batch=number, spec=job, keys=[o.key for o in page]
        )

    def batch_keys(payload: str) -> tuple[str, list[str]]:
        return job.bucket, DeletePrefixBatchJob.model_validate_json(payload).keys

    progress = await run_fan_out(
        ctx,
        store,
        FanOut(
            storage=ctx.storage,
            bucket=job.bucket,
            prefix=job.prefix,
            batch_size=job.batch_size,
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
        report_bucket=progress.report_bucket,
        report_key=progress.report_key,
    )


async def run_delete_prefix_batch(job: DeletePrefixBatchJob, ctx: JobContext) -> BatchResult:
    """Deletes one page of a prefix delete, with DeleteJob's per-key retries."""
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    if spec.dry_run:
        lines = (
            [report_line(spec.bucket, k, "would_delete") for k in job.keys]
            if spec.report == "all"
            else []
        )
        await store.finish_batch(job.batch, done=len(job.keys), lines=lines)
        # Nothing was deleted: the would-be count lives in the parent's progress only.
        return BatchResult(
            of="delete_prefix", migration_id=job.migration_id, batch=job.batch, done=0
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
    await store.finish_batch(job.batch, done=result.deleted_count, failed=len(failed), lines=lines)
    return BatchResult(
        of="delete_prefix",
        migration_id=job.migration_id,
        batch=job.batch,
        done=result.deleted_count,
        failed=len(failed),
    )
