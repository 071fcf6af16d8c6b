"""Plain data the storage client hands back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._attributes import AttributeLoss

__all__ = ["ObjectInfo", "object_info_from_listing", "strip_etag"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored object as a listing, a HEAD or an upload reports it.

    Attributes:
        bucket: The bucket.
        key: The key.
        size: Size in bytes.
        etag: The ETag without quotes; ``md5-N`` shaped for multipart objects (not an MD5).
        last_modified: When the object was last written, if the server said.
        storage_class: The storage class a listing named (None where it named none).
        version_id: The version a write created, in a versioned bucket (copies report it).
        lost: What a write could not keep of the attributes it was given, and why.
    """

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime | None = None
    storage_class: str | None = None
    version_id: str | None = None
    lost: tuple[AttributeLoss, ...] = ()

    @property
    def is_multipart(self) -> bool:
        """True when the ETag has the ``-<parts>`` suffix of a multipart upload."""
        return "-" in self.etag

    def as_dict(self) -> dict[str, Any]:
        """The reference's object metadata dict (``key``, ``size``, ``etag``, ``last_modified``)."""
        return {
            "key": self.key,
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified,
        }


def strip_etag(etag: str | None) -> str:
    """Returns the ETag without the quotes S3 wraps it in."""
    return (etag or "").strip('"')


def object_info_from_listing(bucket: str, entry: Any) -> ObjectInfo:
    """Builds an ObjectInfo from one ``Contents`` entry of ListObjectsV2."""
    return ObjectInfo(
        bucket=bucket,
        key=entry["Key"],
        size=int(entry.get("Size", 0)),
        etag=strip_etag(entry.get("ETag")),
        last_modified=entry.get("LastModified"),
        storage_class=entry.get("StorageClass"),
    )
