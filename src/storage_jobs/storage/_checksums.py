"""Whole-object checksums: CRC32C and SHA-256, as S3's additional checksums carry them.

S3 sends a checksum as base64 of its big-endian bytes (``x-amz-checksum-crc32c``); this module
hands them around as lowercase hex, the form ``sj-<algorithm>`` metadata holds. Only a
*full-object* checksum describes the bytes: a multipart upload's default one is a checksum of
its parts' checksums (``...-N``, type ``COMPOSITE``) and is never compared with a full one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import google_crc32c

__all__ = [
    "ALGORITHMS",
    "ChecksumAlgorithm",
    "Hasher",
    "checksum_args",
    "full_object_checksums",
    "hex_to_s3",
]

ChecksumAlgorithm = Literal["crc32c", "sha256"]

ALGORITHMS: tuple[ChecksumAlgorithm, ...] = ("sha256", "crc32c")
"""Strongest first: the order in which two objects' checksums are compared."""

# Our name -> the suffix of S3's parameter and answer fields (ChecksumCRC32C, ...).
_S3_NAME: dict[ChecksumAlgorithm, str] = {"crc32c": "CRC32C", "sha256": "SHA256"}
# google-crc32c (C, hardware CRC instructions: GiB/s) ships no type hints.
_Crc32c: Any = google_crc32c.Checksum


_CRC_CHUNK = 1024 * 1024


class Hasher:
    """A streaming hash of one algorithm; ``hexdigest`` and ``s3_value`` read it out."""

    def __init__(self, algorithm: ChecksumAlgorithm) -> None:
        """Starts an empty hash."""
        self.algorithm = algorithm
        self._crc: Any = _Crc32c() if algorithm == "crc32c" else None
        self._sha = hashlib.sha256() if algorithm == "sha256" else None

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Adds bytes (or any bytes-like object, such as a view of a multipart upload's part)."""
        if self._crc is not None:
            if isinstance(data, bytes):
                self._crc.update(data)
                return
            # google-crc32c takes only bytes: copy a mutable buffer 1 MiB at a time, not whole.
            view = memoryview(data)
            for start in range(0, len(view), _CRC_CHUNK):
                self._crc.update(bytes(view[start : start + _CRC_CHUNK]))
        else:
            assert self._sha is not None
            self._sha.update(data)

    def digest(self) -> bytes:
        """The raw digest (4 bytes big-endian for CRC32C, 32 for SHA-256)."""
        if self._crc is not None:
            return bytes(self._crc.digest())
        assert self._sha is not None
        return self._sha.digest()

    def hexdigest(self) -> str:
        """The digest as lowercase hex (the ``sj-<algorithm>`` metadata form)."""
        return self.digest().hex()

    def s3_value(self) -> str:
        """The digest as S3 sends it (base64)."""
        return base64.b64encode(self.digest()).decode()

    @classmethod
    def of(cls, algorithm: ChecksumAlgorithm, data: bytes | bytearray | memoryview) -> Hasher:
        """The hash of ``data``."""
        hasher = cls(algorithm)
        hasher.update(data)
        return hasher


def hex_to_s3(hex_value: str) -> str:
    """A hex digest in S3's base64 form."""
    return base64.b64encode(bytes.fromhex(hex_value)).decode()


def checksum_args(algorithm: ChecksumAlgorithm, s3_value: str | None = None) -> dict[str, Any]:
    """Request arguments naming the algorithm, and the value the server must check, if given.

    The value is computed here, not by botocore (which needs awscrt for CRC32C), and the server
    refuses the request (``BadDigest``) when the bytes it got do not match it.
    """
    name = _S3_NAME[algorithm]
    args: dict[str, Any] = {"ChecksumAlgorithm": name}
    if s3_value is not None:
        args[f"Checksum{name}"] = s3_value
    return args


def full_object_checksums(answer: Mapping[str, Any]) -> dict[ChecksumAlgorithm, str]:
    """The full-object checksums (hex) of a HeadObject/GetObject answer (``ChecksumMode``).

    A composite checksum is left out: one ending ``-N``, typed ``COMPOSITE``, or (moto gives no
    type and no suffix) any untyped checksum of a multipart object.
    """
    kind = answer.get("ChecksumType")
    multipart = "-" in str(answer.get("ETag", ""))
    found: dict[ChecksumAlgorithm, str] = {}
    for algorithm, name in _S3_NAME.items():
        value = answer.get(f"Checksum{name}")
        if not value or "-" in value or kind == "COMPOSITE":
            continue
        if multipart and kind != "FULL_OBJECT":
            continue
        try:
            found[algorithm] = base64.b64decode(value, validate=True).hex()
        except (binascii.Error, ValueError):
            continue
    return found
