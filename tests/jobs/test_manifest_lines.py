"""Manifest lines: S3 Batch Operations CSV and S3 Inventory rows, good and bad."""

from __future__ import annotations

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
    assert "version id" in str(parse_line(b"src,a,3HL4kqtJ\n", CSV, "src", ""))
    assert parse_line(b"\n", CSV, "src", "") is None


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
