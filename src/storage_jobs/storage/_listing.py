"""Paged listings: every page followed, never more than one page in memory at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ._objects import ObjectInfo, object_info_from_listing
from ._s3_connection import Connection

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = ["MAX_PAGE_SIZE", "Listings", "iter_listing_pages", "list_folder"]

MAX_PAGE_SIZE = 1000
"""S3 returns at most this many keys per ListObjectsV2 page; some servers return more if asked."""


async def iter_listing_pages(
    s3: S3Client,
    *,
    bucket: str,
    prefix: str,
    page_size: int = MAX_PAGE_SIZE,
    start_after: str | None = None,
    limit: int | None = None,
) -> AsyncIterator[list[ObjectInfo]]:
    """Yields ListObjectsV2 pages until the listing or the limit is exhausted."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    if limit is not None and limit < 0:
        raise ValueError(f"max_keys must be >= 0, got {limit}")
    remaining = limit
    token: str | None = None
    while remaining is None or remaining > 0:
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "MaxKeys": page_size if remaining is None else min(page_size, remaining),
        }
        if token:
            args["ContinuationToken"] = token
        elif start_after:
            args["StartAfter"] = start_after
        answer = await s3.list_objects_v2(**args)
        page = [object_info_from_listing(bucket, c) for c in answer.get("Contents", [])]
        if remaining is not None:
            # A server that ignores MaxKeys must not push us past the caller's cap.
            page = page[:remaining]
            remaining -= len(page)
        if page:
            yield page
        token = answer.get("NextContinuationToken")
        if not answer.get("IsTruncated") or not token:
            return


async def list_folder(s3: S3Client, *, bucket: str, prefix: str, page_size: int) -> dict[str, Any]:
    """Returns every object and common prefix one ``/`` level under ``prefix``."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"max_keys must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    objects: list[dict[str, Any]] = []
    prefixes: list[str] = []
    token: str | None = None
    while True:
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": prefix,
            "Delimiter": "/",
            "MaxKeys": page_size,
        }
        if token:
            args["ContinuationToken"] = token
        answer = await s3.list_objects_v2(**args)
        objects.extend(
            object_info_from_listing(bucket, c).as_dict() for c in answer.get("Contents", [])
        )
        prefixes.extend(p["Prefix"] for p in answer.get("CommonPrefixes", []))
        token = answer.get("NextContinuationToken")
        if not answer.get("IsTruncated") or not token:
            return {"objects": objects, "prefixes": prefixes}


class Listings(Connection):
    """The client's listing calls: whole listings, one folder level, pages of bounded size."""

    async def list_files(
        self, *, bucket: str, prefix: str = "", max_keys: int | None = None
    ) -> list[str]:
        """Lists every key under a prefix, following continuation tokens.

        Args:
            bucket: The bucket.
            prefix: Only keys starting with this.
            max_keys: Cap on the total number of keys returned, across pages.

        Returns:
            The keys, in S3's (UTF-8 binary) order.
        """
        keys: list[str] = []
        async for page in self.iter_pages(bucket=bucket, prefix=prefix, limit=max_keys):
            keys.extend(obj.key for obj in page)
        return keys

    async def list_objects(
        self, *, bucket: str, prefix: str = "", max_keys: int = 1000
    ) -> dict[str, Any]:
        """Lists objects and common prefixes one level under a prefix (``Delimiter='/'``).

        Follows continuation tokens, so the view is complete; ``max_keys`` is the page size.

        Returns:
            ``{"objects": [{"key", "size", "etag", "last_modified"}, ...], "prefixes": [...]}``.
        """
        return await self._call(
            list_folder(self.s3, bucket=bucket, prefix=prefix, page_size=max_keys), bucket=bucket
        )

    async def iter_pages(
        self,
        *,
        bucket: str,
        prefix: str = "",
        page_size: int = 1000,
        start_after: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[list[ObjectInfo]]:
        """Yields the objects under a prefix one listing page at a time (bounded memory).

        Args:
            bucket: The bucket.
            prefix: Only keys starting with this.
            page_size: Keys per request, at most 1,000.
            start_after: Resume after this key (exclusive).
            limit: Stop after this many keys in all.
        """
        pages = iter_listing_pages(
            self.s3,
            bucket=bucket,
            prefix=prefix,
            page_size=page_size,
            start_after=start_after,
            limit=limit,
        )
        async for page in self._pages(pages, bucket=bucket):
            yield page
