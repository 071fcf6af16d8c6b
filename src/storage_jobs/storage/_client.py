"""StorageClient: the reference API over one pooled aiobotocore client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ._bulk import delete_in_batches
from ._errors import StoragePartialDeleteError
from ._listing import Listings
from ._restores import Restores
from ._single_objects import SingleObjects
from ._versions import Versions

__all__ = ["StorageClient"]


class StorageClient(SingleObjects, Listings, Versions, Restores):
    """S3-compatible storage client; one instance holds one pooled connection.

    Connection handling lives in ``Connection``, streamed transfers in ``Transfers``, calls on
    one object in ``SingleObjects``, listings in ``Listings``, versioned buckets in
    ``Versions``, archived objects in ``Restores``; this class adds URLs, the bucket list and
    bulk deletes.

    Example:
        >>> async with StorageClient(config) as storage:  # doctest: +SKIP
        ...     await storage.upload_file(bucket="b", key="k", data=b"hi")
    """

    # -- URLs -------------------------------------------------------------------------------------

    def get_url(self, *, bucket: str, key: str) -> str:
        """Gets the URL of an object: its public URL when configured, else the endpoint's.

        The key is percent-encoded (``/`` kept), so any key gives a URL that fetches it.

        Raises:
            ValueError: If no public URL is configured for this bucket and no endpoint_url is.
        """
        encoded = quote(key, safe="/")
        base = self.config.public_urls.get(bucket)
        if base is not None:
            return f"{base}/{encoded}"
        if self.config.endpoint_url is None:
            raise ValueError(f"no public URL configured for bucket {bucket!r} and no endpoint_url")
        return f"{self.config.endpoint_url}/{quote(bucket)}/{encoded}"

    async def signed_download_url(
        self,
        *,
        bucket: str,
        key: str,
        expires_in: int = 3600,
        response_content_disposition: str | None = None,
        response_content_type: str | None = None,
    ) -> str:
        """Generates a SigV4 presigned GET URL, optionally overriding response headers."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if response_content_disposition is not None:
            params["ResponseContentDisposition"] = response_content_disposition
        if response_content_type is not None:
            params["ResponseContentType"] = response_content_type
        return await self._call(
            self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in),
            bucket=bucket,
            key=key,
        )

    async def signed_upload_url(
        self, *, bucket: str, key: str, expires_in: int = 3600, content_type: str | None = None
    ) -> str:
        """Generates a SigV4 presigned PUT URL; with content_type, the PUT must send that type."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if content_type is not None:
            params["ContentType"] = content_type
        return await self._call(
            self.s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in),
            bucket=bucket,
            key=key,
        )

    # -- buckets -----------------------------------------------------------------------------------

    async def list_buckets(self) -> list[str]:
        """Returns the names of the buckets the credentials can see."""
        answer = await self._call(self.s3.list_buckets())
        return [b["Name"] for b in answer.get("Buckets", [])]

    # -- bulk delete ------------------------------------------------------------------------------

    async def delete_files(self, *, bucket: str, keys: Iterable[str]) -> list[str]:
        """Deletes any number of keys, in ``DeleteObjects`` requests of at most 1,000 keys.

        Keys are de-duplicated; batches run ``delete_concurrency`` at a time. Per-key failures
        of every batch (and whole batches that failed) are gathered into one error.

        Returns:
            The keys that were deleted.

        Raises:
            StoragePartialDeleteError: If any key was not deleted; it carries every failure
                (``errors``) and every key that was deleted (``deleted``).
            StorageBucketNotFoundError: If the bucket does not exist.
        """
        deleted, errors = await delete_in_batches(
            self.s3, bucket=bucket, keys=keys, concurrency=self.config.delete_concurrency
        )
        if errors:
            raise StoragePartialDeleteError(errors, deleted, bucket=bucket)
        return deleted
