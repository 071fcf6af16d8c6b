"""UploadJob: inline bytes in one PUT, local files streamed (multipart when large).

A file is resolved, opened, hashed and read in worker threads, never in the event loop: a
multi-gigabyte file must not stall the worker's lease renewals and heartbeats.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from ..storage import ObjectAttributes
from ..storage._checksums import Hasher
from ._content_match import CHECKSUM_METADATA
from ._context import JobContext
from ._limits import JobRejectedError
from ._models import Checksum, UploadJob
from ._results import UploadResult

__all__ = ["run_upload"]

_READ = 1024 * 1024


async def run_upload(job: UploadJob, ctx: JobContext) -> UploadResult:
    """Runs an UploadJob."""
    metadata = job.metadata
    # Asked-for attributes only: a destination that refuses one fails the upload.
    attributes = ObjectAttributes(content_type=job.content_type).with_values(**job.asked())
    required = job.required()
    if job.data is not None:
        if job.checksum is not None:
            value = Hasher.of(job.checksum, job.data).hexdigest()
            metadata = {**(metadata or {}), CHECKSUM_METADATA[job.checksum]: value}
        info = await ctx.storage.put_bytes(
            bucket=job.bucket,
            key=job.key,
            data=job.data,
            content_type=job.content_type,
            metadata=metadata,
            checksum=job.checksum,
            attributes=attributes,
            required=required,
        )
    else:
        assert job.path is not None
        path = await asyncio.to_thread(ctx.limits.resolve_upload_path, job.path)
        fh = await asyncio.to_thread(path.open, "rb")
        with fh:
            await asyncio.to_thread(_check_opened_file, fh.fileno(), ctx)
            if job.checksum is not None:
                # Metadata goes out before the first part, so the file is hashed first.
                value = await asyncio.to_thread(_file_checksum, fh, job.checksum)
                metadata = {**(metadata or {}), CHECKSUM_METADATA[job.checksum]: value}
            info = await ctx.storage.upload_stream(
                bucket=job.bucket,
                key=job.key,
                stream=_file_chunks(fh),
                content_type=job.content_type,
                metadata=metadata,
                checksum=job.checksum,
                attributes=attributes,
                required=required,
            )
    # Debug: job.done says the same at info, and a line not rendered costs no CPU per job.
    ctx.log.debug("upload.stored", bucket=job.bucket, key=job.key, bytes=info.size)
    return UploadResult(bucket=job.bucket, key=job.key, size=info.size, etag=info.etag)


async def _file_chunks(fh: BinaryIO) -> AsyncIterator[bytes]:
    """The file's bytes, each chunk read in a worker thread."""
    while chunk := await asyncio.to_thread(_read_chunk, fh):
        yield chunk


def _read_chunk(fh: BinaryIO) -> bytes:
    return fh.read(_READ)


def _file_checksum(fh: BinaryIO, algorithm: Checksum) -> str:
    hasher = Hasher(algorithm)
    while chunk := fh.read(_READ):
        hasher.update(chunk)
    fh.seek(0)
    return hasher.hexdigest()


def _check_opened_file(fd: int, ctx: JobContext) -> None:
    # The path was checked before opening; a symlink swapped in between would escape the roots,
    # so check what was actually opened (Linux exposes it under /proc/self/fd).
    proc = Path(f"/proc/self/fd/{fd}")
    if not proc.exists():
        return
    real = Path(os.path.realpath(proc))
    if not any(real.is_relative_to(root) for root in ctx.limits.upload_roots):
        raise JobRejectedError("path", "the opened file lies outside the upload roots")
