"""CopyJob: a server-side copy, skipped when an identical destination exists."""

from __future__ import annotations

from ..storage import StorageObjectNotFoundError
from ._content_match import CHECKSUM_METADATA, same_content
from ._context import JobContext
from ._models import CopyJob
from ._readback import checksum_of
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
    metadata: dict[str, str] | None = None
    if job.checksum is not None:
        # The source's own checksum where it holds one; else one read of it.
        value = await checksum_of(ctx.storage, job.src_bucket, job.src_key, src, job.checksum)
        metadata = {**src["metadata"], CHECKSUM_METADATA[job.checksum]: value}
    info = await ctx.storage.copy_object(
        src_bucket=job.src_bucket,
        src_key=job.src_key,
        dst_bucket=dst_bucket,
        dst_key=job.dst_key,
        size=int(src["size"]),
        metadata=metadata,
        content_type=src["content_type"] if metadata is not None else None,
        checksum=job.checksum,
    )
    ctx.log.info("copy.done", dst_bucket=dst_bucket, dst_key=job.dst_key, bytes=info.size)
    return result
