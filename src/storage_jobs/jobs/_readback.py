"""Reading objects back to prove two copies hold the same bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..storage import StorageClient

__all__ = ["Digest", "compare_by_reading", "digest"]


@dataclass(frozen=True)
class Digest:
    """What reading an object end to end found: its size, MD5 and SHA-256 (hex)."""

    size: int
    md5: str
    sha256: str


async def digest(storage: StorageClient, bucket: str, key: str) -> Digest:
    """Streams an object once (bounded memory) and hashes it."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    size = 0
    async for chunk in storage.stream_object(bucket=bucket, key=key):
        md5.update(chunk)
        sha.update(chunk)
        size += len(chunk)
    return Digest(size=size, md5=md5.hexdigest(), sha256=sha.hexdigest())


async def compare_by_reading(
    source: StorageClient,
    src_bucket: str,
    src_key: str,
    src_etag: str,
    destination: StorageClient,
    dst_bucket: str,
    dst_key: str,
    src_sha256: str | None = None,
) -> str | None:
    """Reads the destination back and compares it with the source.

    The source is read too unless its ETag is an MD5 or its SHA-256 is known.

    Returns:
        None when the bytes match, else what differs.
    """
    dst = await digest(destination, dst_bucket, dst_key)
    if src_sha256:
        if dst.sha256 != src_sha256:
            return f"destination sha256 {dst.sha256[:16]} is not the source's {src_sha256[:16]}"
        return None
    if src_etag and "-" not in src_etag:
        # A single-part ETag is the MD5 of the source's bytes: no need to read the source.
        if dst.md5 != src_etag:
            return f"destination MD5 {dst.md5} is not the source's {src_etag}"
        return None
    src = await digest(source, src_bucket, src_key)
    if (src.size, src.sha256) != (dst.size, dst.sha256):
        return (
            f"destination ({dst.size} B, sha256 {dst.sha256[:16]}) differs from the source "
            f"({src.size} B, sha256 {src.sha256[:16]})"
        )
    return None
