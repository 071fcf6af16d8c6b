"""CopyJob: a server-side copy, skipped when an identical destination exists."""

from __future__ import annotations

from ..storage import ObjectAttributes, StorageObjectNotFoundError
from ._content_match import CHECKSUM_METADATA, same_content
from ._context import JobContext
from ._models import CopyJob
from ._readback import checksum_of
from ._results import CopyResult, LostAttribute
from ._write_options import copy_attributes

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
    # Tags stay unread: a single CopyObject copies them itself (a multipart one reads them).
    kept = copy_attributes(
        src.get("attributes") or ObjectAttributes(), job.preserved(), job.asked()
    )
    if job.checksum is not None:
        # The source's own checksum where it holds one; else one read of it.
        value = await checksum_of(ctx.storage, job.src_bucket, job.src_key, src, job.checksum)
        kept = kept.with_values(metadata={**kept.metadata, CHECKSUM_METADATA[job.checksum]: value})
    info = await ctx.storage.copy_object(
        src_bucket=job.src_bucket,
        src_key=job.src_key,
        dst_bucket=dst_bucket,
        dst_key=job.dst_key,
        size=int(src["size"]),
        checksum=job.checksum,
        attributes=kept,
        required=job.required(),
    )
    lost = [LostAttribute(attribute=x.attribute, reason=x.reason) for x in info.lost]
    if lost:
        ctx.log.warning(
            "copy.attributes_lost",
            dst_bucket=dst_bucket,
            dst_key=job.dst_key,
            lost=[str(x) for x in info.lost],
        )
    ctx.log.info("copy.done", dst_bucket=dst_bucket, dst_key=job.dst_key, bytes=info.size)
    return result.model_copy(update={"lost": lost})
