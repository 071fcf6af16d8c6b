"""Reading objects back to prove two copies hold the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..storage import StorageClient
from ..storage._checksums import Hasher
from ._content_match import stored_checksums
from ._models import Checksum

__all__ = ["Digest", "checksum_of", "compare_by_reading", "digest"]


@dataclass(frozen=True)
class Digest:
    """What reading an object end to end found: its size, MD5, SHA-256 and CRC32C (hex)."""

    size: int
    md5: str
    sha256: str
    crc32c: str

    def of(self, algorithm: Checksum) -> str:
        """The hex checksum of one algorithm."""
        return self.sha256 if algorithm == "sha256" else self.crc32c


async def digest(
    storage: StorageClient, bucket: str, key: str, version_id: str | None = None
) -> Digest:
    """Streams an object once (bounded memory) and hashes it.

    CRC32C (hardware, several GiB/s) costs next to nothing beside the MD5 and SHA-256.
    """
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    crc = Hasher("crc32c")
    size = 0
    async for chunk in storage.stream_object(bucket=bucket, key=key, version_id=version_id):
        md5.update(chunk)
        sha.update(chunk)
        crc.update(chunk)
        size += len(chunk)
    return Digest(size=size, md5=md5.hexdigest(), sha256=sha.hexdigest(), crc32c=crc.hexdigest())


async def checksum_of(
    storage: StorageClient,
    bucket: str,
    key: str,
    head: Mapping[str, Any],
    algorithm: Checksum,
    version_id: str | None = None,
) -> str:
    """An object's whole-object checksum (hex): the one it holds, else read and computed."""
    held = stored_checksums(head).get(algorithm)
    if held:
        return held
    return (await digest(storage, bucket, key, version_id)).of(algorithm)


async def compare_by_reading(
    source: StorageClient,
    src_bucket: str,
    src_key: str,
    src_etag: str,
    destination: StorageClient,
    dst_bucket: str,
    dst_key: str,
    src_checksum: tuple[Checksum, str] | None = None,
    src_version_id: str | None = None,
) -> str | None:
    """Reads the destination back and compares it with the source.

    The source is read too unless its ETag is an MD5 or one of its whole-object checksums
    (``(algorithm, hex)``) is known.

    Returns:
        None when the bytes match, else what differs.
    """
    dst = await digest(destination, dst_bucket, dst_key)
    if src_checksum is not None:
        algorithm, expected = src_checksum
        if dst.of(algorithm) != expected:
            return (
                f"destination {algorithm} {dst.of(algorithm)[:16]} is not the source's "
                f"{expected[:16]}"
            )
        return None
    if src_etag and "-" not in src_etag:
        # A single-part ETag is the MD5 of the source's bytes: no need to read the source.
        if dst.md5 != src_etag:
            return f"destination MD5 {dst.md5} is not the source's {src_etag}"
        return None
    src = await digest(source, src_bucket, src_key, src_version_id)
    if (src.size, src.sha256) != (dst.size, dst.sha256):
        return (
            f"destination ({dst.size} B, sha256 {dst.sha256[:16]}) differs from the source "
            f"({src.size} B, sha256 {src.sha256[:16]})"
        )
    return None
