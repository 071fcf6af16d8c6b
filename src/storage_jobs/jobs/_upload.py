"""UploadJob: inline bytes in one PUT, local files streamed (multipart when large)."""

from __future__ import annotations

import os
from pathlib import Path

from ._context import JobContext
from ._limits import JobRejectedError
from ._models import UploadJob
from ._results import UploadResult

__all__ = ["run_upload"]


async def run_upload(job: UploadJob, ctx: JobContext) -> UploadResult:
    """Runs an UploadJob."""
    if job.data is not None:
        info = await ctx.storage.put_bytes(
            bucket=job.bucket,
            key=job.key,
            data=job.data,
            content_type=job.content_type,
            metadata=job.metadata,
        )
    else:
        assert job.path is not None
        path = ctx.limits.resolve_upload_path(job.path)
        with path.open("rb") as fh:
            _check_opened_file(fh.fileno(), ctx)
            info = await ctx.storage.upload_stream(
                bucket=job.bucket,
                key=job.key,
                stream=fh,
                content_type=job.content_type,
                metadata=job.metadata,
            )
    ctx.log.info("upload.stored", bucket=job.bucket, key=job.key, bytes=info.size)
    return UploadResult(bucket=job.bucket, key=job.key, size=info.size, etag=info.etag)


def _check_opened_file(fd: int, ctx: JobContext) -> None:
    # The path was checked before opening; a symlink swapped in between would escape the roots,
    # so check what was actually opened (Linux exposes it under /proc/self/fd).
    proc = Path(f"/proc/self/fd/{fd}")
    if not proc.exists():
        return
    real = Path(os.path.realpath(proc))
    if not any(real.is_relative_to(root) for root in ctx.limits.upload_roots):
        raise JobRejectedError("path", "the opened file lies outside the upload roots")
