"""Destination keys the source lacks: one merge walk of two sorted listings, bounded memory.

Both listings come back in S3's order (UTF-8 binary, which is Python's ``str`` order), and
stripping a common prefix keeps that order, so walking them side by side finds every key of
the destination without a counterpart in the (filtered) source, a page of each at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..storage import ObjectInfo, StorageClient
from ._filters import ObjectFilter

__all__ = ["iter_extraneous"]


async def _selected_relative_keys(
    storage: StorageClient, bucket: str, prefix: str, keep: ObjectFilter
) -> AsyncIterator[str]:
    async for page in storage.iter_pages(bucket=bucket, prefix=prefix):
        for obj in page:
            rel = obj.key[len(prefix) :]
            if keep.selected(rel, obj.size, obj.last_modified, obj.storage_class):
                yield rel


async def iter_extraneous(
    source: StorageClient,
    src_bucket: str,
    src_prefix: str,
    destination: StorageClient,
    dst_bucket: str,
    dst_prefix: str,
    keep: ObjectFilter,
    skip_prefix: str | None = None,
) -> AsyncIterator[ObjectInfo]:
    """Yields destination objects (filtered like the source) whose key the source lacks.

    Args:
        source: Client of the source's endpoint.
        src_bucket: The source bucket.
        src_prefix: The source prefix.
        destination: Client of the destination's endpoint.
        dst_bucket: The destination bucket.
        dst_prefix: The destination prefix.
        keep: The job's filter, applied to both sides as rclone does.
        skip_prefix: Destination keys never to yield (the job's reports, when they land there).
    """
    src_keys = _selected_relative_keys(source, src_bucket, src_prefix, keep)
    current = await anext(src_keys, None)
    async for page in destination.iter_pages(bucket=dst_bucket, prefix=dst_prefix):
        for obj in page:
            rel = obj.key[len(dst_prefix) :]
            if (skip_prefix and obj.key.startswith(skip_prefix)) or not keep.selected(
                rel, obj.size, obj.last_modified, obj.storage_class
            ):
                continue
            while current is not None and current < rel:
                current = await anext(src_keys, None)
            if current != rel:
                yield obj
