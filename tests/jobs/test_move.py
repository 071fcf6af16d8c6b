"""What HEAD answers prove about a copy before a move deletes its source (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from storage_jobs.jobs._move import copy_proven

MD5 = "0cc175b9c0f1b6a831c399e269772661"
OTHER_MD5 = "92eb5ffee6ae2fec3ad71c777531578f"


def head(size: int = 3, etag: str = MD5, **checksums: str) -> dict[str, Any]:
    return {"size": size, "etag": etag, "checksums": checksums, "metadata": {}}


@pytest.mark.parametrize(
    ("src", "dst", "expected", "proven"),
    [
        (head(), head(size=4), None, False),  # sizes differ: never the same bytes
        (head(), head(), None, True),  # equal single-part ETags: equal MD5s
        (head(etag="abc-2"), head(etag="abc-2"), None, None),  # multipart: no proof
        (head(), head(etag=OTHER_MD5), None, None),  # an SSE-KMS ETag is no MD5: read back
        (head(etag="abc-2"), head(etag="x-1", crc32c="aa"), ("crc32c", "aa"), True),
        (head(etag="abc-2"), head(etag="x-1", crc32c="bb"), ("crc32c", "aa"), False),
        (head(sha256="s1"), head(etag=OTHER_MD5, sha256="s1"), None, True),
        (head(sha256="s1"), head(sha256="s2"), None, False),  # a server checksum overrules
    ],
)
def test_copy_proven_takes_only_what_servers_computed(
    src: dict[str, Any],
    dst: dict[str, Any],
    expected: tuple[Any, str] | None,
    proven: bool | None,
) -> None:
    assert copy_proven(src, dst, expected) is proven


def test_copied_metadata_is_a_claim_not_proof() -> None:
    """``sj-*`` metadata copied from the source proves nothing about the copy's bytes."""
    src = head(etag="abc-2")
    dst = {**head(etag="def-2"), "metadata": {"sj-crc32c": "aa", "sj-src-etag": "abc-2"}}
    assert copy_proven(src, dst, ("crc32c", "aa")) is None
