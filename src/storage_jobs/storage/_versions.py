"""Object versions: paged ListObjectVersions and version-exact deletes (versioned buckets)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._listing import MAX_PAGE_SIZE
from ._objects import strip_etag
from ._s3_connection import Connection

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["ObjectVersion", "Versions", "delete_version_batch", "iter_version_pages"]


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version (or delete marker) of a key in a versioned bucket.

    Attributes:
        key: The key.
        version_id: The version's id (``null`` for one written before versioning).
        is_latest: Whether it is the key's current version.
        is_delete_marker: Whether it is a delete marker (no bytes).
        size: Size in bytes (0 for a delete marker).
        etag: The ETag without quotes ("" for a delete marker).
        last_modified: When it was written.
    """

    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int = 0
    etag: str = ""
    last_modified: datetime | None = None


async def iter_version_pages(
    s3: S3Client, *, bucket: str, prefix: str, page_size: int, key_marker: str | None
) -> AsyncIterator[list[ObjectVersion]]:
    """Yields ListObjectVersions pages (versions and delete markers, newest first per key)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if key_marker:
        args["KeyMarker"] = key_marker
    while True:
        answer = await s3.list_object_versions(**args)
        page = [
            ObjectVersion(
                key=v["Key"],
                version_id=str(v.get("VersionId") or "null"),
                is_latest=bool(v.get("IsLatest")),
                is_delete_marker=False,
                size=int(v.get("Size", 0)),
                etag=strip_etag(v.get("ETag")),
                last_modified=v.get("LastModified"),
            )
            for v in answer.get("Versions", [])
        ] + [
            ObjectVersion(
                key=m["Key"],
                version_id=str(m.get("VersionId") or "null"),
                is_latest=bool(m.get("IsLatest")),
                is_delete_marker=True,
                last_modified=m.get("LastModified"),
            )
            for m in answer.get("DeleteMarkers", [])
        ]
        # The answer keeps versions and markers apart; one key's history is newest first.
        page.sort(key=lambda v: (v.key, -(v.last_modified.timestamp() if v.last_modified else 0)))
        if page:
            yield page
        if not answer.get("IsTruncated"):
            return
        args["KeyMarker"] = answer.get("NextKeyMarker", "")
        args["VersionIdMarker"] = answer.get("NextVersionIdMarker", "")


async def delete_version_batch(
    s3: S3Client, *, bucket: str, versions: Sequence[tuple[str, str]]
) -> list[dict[str, str]]:
    """Deletes up to 1,000 exact versions (an empty version id: the key's current object).

    Returns:
        One ``{"key", "version_id", "code", "message"}`` per version that was not deleted.
    """
    answer = await s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [{"Key": k, "VersionId": v} if v else {"Key": k} for k, v in versions],
            "Quiet": True,
        },
    )
    return [
        {
            "key": str(e.get("Key", "")),
            "version_id": str(e.get("VersionId", "")),
            "code": str(e.get("Code", "Unknown")),
            "message": str(e.get("Message", "")),
        }
        for e in answer.get("Errors", [])
    ]


class Versions(Connection):
    """The client's calls on a versioned bucket: its versions page by page, exact deletes."""

    async def iter_version_pages(
        self,
        *,
        bucket: str,
        prefix: str = "",
        page_size: int = 1000,
        key_marker: str | None = None,
    ) -> AsyncIterator[list[ObjectVersion]]:
        """Yields every version and delete marker under a prefix, a page at a time.

        Within a page one key's history is newest first; a key's history may continue on the
        next page. ``key_marker`` resumes after every version of that key.
        """
        pages = iter_version_pages(
            self.s3, bucket=bucket, prefix=prefix, page_size=page_size, key_marker=key_marker
        )
        async for page in self._pages(pages, bucket=bucket):
            yield page

    async def delete_versions(
        self, *, bucket: str, versions: Iterable[tuple[str, str]]
    ) -> list[dict[str, str]]:
        """Deletes exact versions (and delete markers) by ``(key, version_id)``, 1,000 a request.

        Returns:
            One ``{"key", "version_id", "code", "message"}`` per version not deleted.
        """
        todo = list(versions)
        failed: list[dict[str, str]] = []
        for i in range(0, len(todo), 1000):
            failed += await self._call(
                delete_version_batch(self.s3, bucket=bucket, versions=todo[i : i + 1000]),
                bucket=bucket,
            )
        return failed
