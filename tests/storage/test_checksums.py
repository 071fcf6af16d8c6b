"""Checksums: CRC32C/SHA-256 values, and full-object ones told apart from composites."""

from __future__ import annotations

import base64
import hashlib

from storage_jobs.storage._checksums import Hasher, full_object_checksums, hex_to_s3


def test_crc32c_known_answer() -> None:
    """RFC 3720's check value: CRC32C("123456789") = e3069283."""
    assert Hasher.of("crc32c", b"123456789").hexdigest() == "e3069283"
    assert hex_to_s3("e3069283") == base64.b64encode(bytes.fromhex("e3069283")).decode()


def test_streamed_hash_equals_one_shot() -> None:
    data = bytes(range(256)) * 1000
    for algorithm in ("crc32c", "sha256"):
        streamed = Hasher(algorithm)
        for i in range(0, len(data), 4097):
            streamed.update(data[i : i + 4097])
        assert streamed.hexdigest() == Hasher.of(algorithm, data).hexdigest()
    assert Hasher.of("sha256", data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_composite_checksums_are_never_taken_for_full_object_ones() -> None:
    crc = hex_to_s3("e3069283")
    assert full_object_checksums({"ChecksumCRC32C": crc, "ETag": '"abc"'}) == {"crc32c": "e3069283"}
    # SeaweedFS / AWS: a composite says so, by suffix and by type.
    assert full_object_checksums({"ChecksumCRC32C": crc + "-2", "ETag": '"a-2"'}) == {}
    assert full_object_checksums({"ChecksumCRC32C": crc, "ChecksumType": "COMPOSITE"}) == {}
    # moto: a multipart object's composite comes with neither; the ETag tells.
    assert full_object_checksums({"ChecksumSHA256": crc, "ETag": '"a-2"'}) == {}
    # A multipart upload with a full-object CRC32C says FULL_OBJECT.
    answer = {"ChecksumCRC32C": crc, "ChecksumType": "FULL_OBJECT", "ETag": '"a-2"'}
    assert full_object_checksums(answer) == {"crc32c": "e3069283"}
