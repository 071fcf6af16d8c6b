"""When two stored objects count as identical, so a copy can be skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CHECKSUM_METADATA", "SOURCE_ETAG_METADATA", "content_evidence", "same_content"]

CHECKSUM_METADATA = "sj-sha256"
"""User metadata holding a whole-object SHA-256, written where an ETag is not an MD5."""


SOURCE_ETAG_METADATA = "sj-src-etag"
"""User metadata a copy carries with its source's ETag, where its own ETag cannot match it
(a multipart source copied in one request, or re-uploaded across endpoints)."""


def content_evidence(src: Mapping[str, Any], dst: Mapping[str, Any]) -> bool | None:
    """What stored evidence says about two objects: same (True), different (False), or unknown.

    The strongest evidence both sides have decides: sizes; then a stored SHA-256 on both; then
    equal ETags (an MD5 for single-part objects; equal multipart ETags mean equal parts); then
    the source ETag a copy recorded; then two single-part ETags, which are MD5s and differ.
    Anything else (a multipart ETag against another layout, no ETag) is unknown, never a guess.
    """
    if int(src["size"]) != int(dst["size"]):
        return False
    src_sum = (src.get("metadata") or {}).get(CHECKSUM_METADATA)
    dst_sum = (dst.get("metadata") or {}).get(CHECKSUM_METADATA)
    if src_sum and dst_sum:
        return bool(src_sum == dst_sum)
    if not src["etag"]:
        return None
    if src["etag"] == dst["etag"]:
        return True
    copied_from = (dst.get("metadata") or {}).get(SOURCE_ETAG_METADATA)
    if copied_from:
        return bool(copied_from == src["etag"])
    if dst["etag"] and "-" not in src["etag"] and "-" not in dst["etag"]:
        return False
    return None


def same_content(src: Mapping[str, Any], dst: Mapping[str, Any]) -> bool:
    """Whether two HEAD answers describe the same bytes, as far as S3 lets us know.

    Sizes must match. Then a stored SHA-256 in both decides; else the ETags must match. A
    single-part ETag is the MD5 of the bytes; a multipart ETag (``md5-N``) depends on the part
    layout, so equal multipart ETags mean equal bytes, but unequal ones prove nothing and the copy
    goes ahead (never a false "identical"). A destination we copied records its source's ETag
    in metadata, which matches as long as the source is unchanged.
    """
    if int(src["size"]) != int(dst["size"]):
        return False
    src_sum = (src.get("metadata") or {}).get(CHECKSUM_METADATA)
    dst_sum = (dst.get("metadata") or {}).get(CHECKSUM_METADATA)
    if src_sum and dst_sum:
        return bool(src_sum == dst_sum)
    if not src["etag"]:
        return False
    copied_from = (dst.get("metadata") or {}).get(SOURCE_ETAG_METADATA)
    return bool(src["etag"] == dst["etag"] or copied_from == src["etag"])
