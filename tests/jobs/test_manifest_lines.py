"""Manifest lines: S3 Batch Operations CSV and S3 Inventory rows, good and bad."""

from __future__ import annotations

from typing import Any

from storage_jobs.jobs import ObjectRef
from storage_jobs.jobs._content_match import content_evidence
from storage_jobs.jobs._manifest import parse_line

CSV = ("Bucket", "Key", "VersionId")
INVENTORY = ("Bucket", "Key", "Size", "LastModifiedDate", "ETag", "StorageClass")


def test_csv_keys_are_url_decoded() -> None:
    got = parse_line(b"src,photos/a%20b%2Bc+d.jpg\n", CSV, "src", "photos/")
    assert got == ObjectRef(key="photos/a b+c d.jpg")


def test_bad_lines_say_why() -> None:
    assert "not the source bucket" in str(parse_line(b"other,photos/a\n", CSV, "src", "photos/"))
    assert "outside src_prefix" in str(parse_line(b"src,videos/a\n", CSV, "src", "photos/"))
    assert "unparseable" in str(parse_line(b"just-one-field\n", CSV, "src", ""))
    assert "unparseable" in str(parse_line(b"\xff\xfe,\n", CSV, "src", ""))
    assert "version id" in str(parse_line(b"src,a,bad\x01id\n", CSV, "src", ""))
    assert parse_line(b"\n", CSV, "src", "") is None


def test_a_version_id_selects_that_version() -> None:
    """``bucket,key,version_id`` names one version; ``null`` (an unversioned write) the key."""
    assert parse_line(b"src,a,3HL4kqtJ\n", CSV, "src", "") == ObjectRef(
        key="a", version_id="3HL4kqtJ"
    )
    assert parse_line(b"src,a,null\n", CSV, "src", "") == ObjectRef(key="a")
    assert parse_line(b"src,a,\n", CSV, "src", "") == ObjectRef(key="a")


def test_inventory_rows_carry_attributes() -> None:
    row = b'"src","photos/a.jpg","12","2024-05-01T10:00:00.000Z","abc","GLACIER"\n'
    got = parse_line(row, INVENTORY, "src", "photos/")
    assert isinstance(got, ObjectRef)
    assert (got.size, got.etag, got.storage_class) == (12, "abc", "GLACIER")
    assert got.last_modified is not None and got.last_modified.year == 2024


def test_evidence_is_never_a_false_identical() -> None:
    def obj(size: int, etag: str, **meta: str) -> dict[str, object]:
        return {"size": size, "etag": etag, "metadata": meta}

    assert content_evidence(obj(1, "a"), obj(1, "a")) is True
    assert content_evidence(obj(1, "a"), obj(2, "a")) is False
    assert content_evidence(obj(1, "a"), obj(1, "b")) is False  # two MD5s
    assert content_evidence(obj(1, "a-2"), obj(1, "b")) is None  # multipart vs MD5: unknown
    assert content_evidence(obj(1, "a-2"), obj(1, "b", **{"sj-src-etag": "a-2"})) is True
    assert content_evidence(obj(1, "a-2"), obj(1, "b", **{"sj-src-etag": "c-2"})) is False
    assert (
        content_evidence(obj(1, "a", **{"sj-sha256": "x"}), obj(1, "a", **{"sj-sha256": "y"}))
        is False
    )


def test_checksum_evidence_takes_the_strongest_both_sides_have() -> None:
    """SHA-256 before CRC32C before ETags; the server's checksum over the worker's metadata."""

    def obj(etag: str, sums: dict[str, str] | None = None, /, **meta: Any) -> dict[str, object]:
        return {"size": 5, "etag": etag, "metadata": meta, "checksums": sums or {}}

    # A CRC32C on both sides decides, even against equal multipart ETags of other bytes.
    assert content_evidence(obj("m-2", {"crc32c": "aa"}), obj("m-2", {"crc32c": "bb"})) is False
    assert content_evidence(obj("m-2", {"crc32c": "aa"}), obj("n-3", **{"sj-crc32c": "AA"})) is True
    # Both have CRC32C, but SHA-256 only one side: CRC32C decides.
    assert (
        content_evidence(obj("e", {"crc32c": "aa", "sha256": "s"}), obj("e", {"crc32c": "cc"}))
        is False
    )
    # Both have SHA-256 and CRC32C: SHA-256 decides.
    assert (
        content_evidence(
            obj("x", {"crc32c": "aa"}, **{"sj-sha256": "s"}),
            obj("y", {"crc32c": "aa"}, **{"sj-sha256": "t"}),
        )
        is False
    )
    # The server's checksum wins over a metadata claim that disagrees with it.
    assert (
        content_evidence(
            obj("e", {"crc32c": "aa"}), obj("e", {"crc32c": "bb"}, **{"sj-crc32c": "aa"})
        )
        is False
    )
    # A metadata claim yields to two MD5s that differ (bytes rewritten, metadata kept)...
    assert (
        content_evidence(obj("e", **{"sj-crc32c": "aa"}), obj("f", **{"sj-crc32c": "aa"})) is False
    )
    # ...but the server's own checksums on both sides decide.
    assert content_evidence(obj("e", {"crc32c": "aa"}), obj("f", {"crc32c": "aa"})) is True
    # One side's checksum only: back to ETags (a composite never reaches here: see storage).
    assert content_evidence(obj("a-2", {"crc32c": "aa"}), obj("b-3")) is None
