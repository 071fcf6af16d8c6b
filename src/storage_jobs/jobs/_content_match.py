"""When two stored objects count as identical, so a copy can be skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._models import Checksum

__all__ = [
    "ALGORITHMS",
    "CHECKSUM_METADATA",
    "SOURCE_ETAG_METADATA",
    "content_evidence",
    "same_content",
    "stored_checksums",
]

ALGORITHMS: tuple[Checksum, ...] = ("sha256", "crc32c")
"""Strongest first: two objects are compared by the first algorithm both have."""

CHECKSUM_METADATA: dict[Checksum, str] = {"sha256": "sj-sha256", "crc32c": "sj-crc32c"}
"""User metadata holding a whole-object checksum (hex) the worker computed."""

SOURCE_ETAG_METADATA = "sj-src-etag"
"""User metadata a copy carries with its source's ETag, where its own ETag cannot match it
(a multipart source copied in one request, or re-uploaded across endpoints)."""


def stored_checksums(head: Mapping[str, Any]) -> dict[Checksum, str]:
    """The whole-object checksums (hex) a HEAD answer holds, by algorithm.

    The server's own full-object checksum (S3 additional checksums; composite ones are never
    taken) wins over the ``sj-<algorithm>`` metadata a worker wrote.
    """
    metadata = head.get("metadata") or {}
    found: dict[Checksum, str] = {
        algorithm: str(metadata[name]).lower()
        for algorithm, name in CHECKSUM_METADATA.items()
        if metadata.get(name)
    }
    found.update(head.get("checksums") or {})
    return found


def content_evidence(src: Mapping[str, Any], dst: Mapping[str, Any]) -> bool | None:
    """What stored evidence says about two objects: same (True), different (False), or unknown.

    The strongest evidence both sides have decides: sizes; then a whole-object checksum both
    hold (SHA-256, then CRC32C; never a multipart composite): any that differs means
    different; the server's own on both sides means same. Then two single-part ETags that
    differ, MD5s of different bytes, mean different whatever metadata claims; then a match in
    ``sj-*`` metadata (a worker's claim); then equal ETags (an MD5 for single-part objects;
    equal multipart ETags mean equal parts); then the source ETag a copy recorded. Anything
    else (a multipart ETag against another layout, no ETag) is unknown, never a guess.
    """
    if int(src["size"]) != int(dst["size"]):
        return False
    src_etag, dst_etag = src["etag"], dst["etag"]
    md5s_differ = bool(
        src_etag and dst_etag and "-" not in src_etag + dst_etag and src_etag != dst_etag
    )
    held = _common(src.get("checksums") or {}, dst.get("checksums") or {})
    claimed = _common(stored_checksums(src), stored_checksums(dst))
    if held is False or claimed is False:
        return False  # any checksum that differs: never a false "identical"
    if held:
        return True
    if md5s_differ:
        # MD5s of different bytes overrule what metadata claims (kept by a rewrite, say). A
        # destination whose ETag is no MD5 (SSE-KMS) is copied again: safe, if not cheap.
        return False
    if claimed:
        return True
    if not src_etag:
        return None
    if src_etag == dst_etag:
        return True
    copied_from = (dst.get("metadata") or {}).get(SOURCE_ETAG_METADATA)
    if copied_from:
        return bool(copied_from == src_etag)
    return None


def _common(src: Mapping[Checksum, str], dst: Mapping[Checksum, str]) -> bool | None:
    """Compares the strongest algorithm both sides have; None when they share none."""
    for algorithm in ALGORITHMS:
        if src.get(algorithm) and dst.get(algorithm):
            return src[algorithm] == dst[algorithm]
    return None


def same_content(src: Mapping[str, Any], dst: Mapping[str, Any]) -> bool:
    """Whether two HEAD answers describe the same bytes, as far as S3 lets us know.

    Only a positive ``content_evidence`` counts: unknown means the copy goes ahead (never a
    false "identical"). A single-part ETag is the MD5 of the bytes; a multipart ETag
    (``md5-N``) depends on the part layout, so equal multipart ETags mean equal bytes, but
    unequal ones prove nothing. A destination we copied records its source's ETag in metadata,
    which matches as long as the source is unchanged.
    """
    return content_evidence(src, dst) is True
