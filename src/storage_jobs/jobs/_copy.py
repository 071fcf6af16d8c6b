"""CopyJob: a server-side copy, skipped when an identical destination exists."""

from __future__ import annotations

from ..storage import StorageObjectNotFoundError
from ._content_match import same_content
from ._context import JobContext
from ._models import CopyJob
from ._results import CopyResult

__all__ = ["run_copy"]


async def run_copy(job: CopyJob, ctx: JobContext) -> CopyResult:
    """Runs a CopyJob."""
    dst_bucket = job.dst_bucket or job.src_bucket
    result = CopyResult(
        src_bucket=job.src_bucket, src_key=job.src_key, dst_bucket=dst_bucket, dst_key=job.dst_key
    )
    src = await ctx.storage.head_object(bucket=job.src_bucket, key=job.src_key)
    if job.skip_if_identical:
        try:
            dst = await ctx.storage.head_object(bucket=dst_bucket, key=job.dst_key)
        except StorageObjectNotFoundError:
            dst = None
        if dst is not None and same_content(src, dst):
            ctx.log.info("copy.skipped_identical", dst_bucket=dst_bucket, dst_key=job.dst_key)
            return result.model_copy(update={"skipped": True})
    info = await ctx.storage.copy_object(
        src_bucket=job.src_bucket,
        src_key=job.src_key,
        dst_bucket=dst_bucket,
        dst_key=job.dst_key,
        size=int(src["size"]),
    )
    ctx.log.info("copy.done", dst_bucket=dst_bucket, dst_key=job.dst_key, bytes=info.size)
    return result
