"""Storage: a bucket-bound facade over StorageClient, as in the reference's example."""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self

from pydantic import SecretStr

from ._client import StorageClient
from ._config import StorageConfig
from ._objects import ObjectInfo

__all__ = ["Storage"]


class Storage:
    """One bucket, one client: the short form for application code.

    Example:
        >>> async with Storage(  # doctest: +SKIP
        ...     bucket_name="my-bucket",
        ...     endpoint_url="https://s3.amazonaws.com",
        ...     aws_access_key_id="key",
        ...     aws_secret_access_key="secret",
        ... ) as storage:
        ...     await storage.upload_file("path/to/local/file.txt", "remote/file.txt")
        ...     content = await storage.fetch_file("remote/file.txt")
    """

    def __init__(
        self,
        *,
        bucket_name: str,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | SecretStr | None = None,
        **config: Any,
    ) -> None:
        """Binds a new client to one bucket.

        Args:
            bucket_name: The bucket every call goes to.
            endpoint_url: S3 endpoint URL.
            aws_access_key_id: Access key id.
            aws_secret_access_key: Secret access key.
            **config: Any other ``StorageConfig`` field (region, public_urls, ...).
        """
        secret = (
            SecretStr(aws_secret_access_key)
            if isinstance(aws_secret_access_key, str)
            else aws_secret_access_key
        )
        self.bucket_name = bucket_name
        self.client = StorageClient(
            StorageConfig(
                endpoint_url=endpoint_url,
                access_key_id=aws_access_key_id,
                secret_access_key=secret,
                **config,
            )
        )

    def __repr__(self) -> str:
        return f"Storage(bucket_name={self.bucket_name!r}, client={self.client!r})"

    async def __aenter__(self) -> Self:
        await self.client.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.client.disconnect()

    async def upload_file(
        self,
        local_path: str | os.PathLike[str],
        key: str,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> ObjectInfo:
        """Uploads a local file (multipart when large) to ``key``."""
        return await self.client.upload_path(
            bucket=self.bucket_name,
            key=key,
            path=local_path,
            content_type=content_type,
            metadata=metadata,
        )

    async def upload_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Uploads bytes to ``key``."""
        await self.client.upload_file(
            bucket=self.bucket_name,
            key=key,
            data=data,
            content_type=content_type,
            metadata=metadata,
        )

    async def fetch_file(self, key: str) -> bytes:
        """Fetches an object's bytes."""
        return await self.client.fetch_file(bucket=self.bucket_name, key=key)

    async def download_file(self, key: str, local_path: str | os.PathLike[str]) -> int:
        """Streams an object to a local file; returns the bytes written."""
        return await self.client.download_to_path(bucket=self.bucket_name, key=key, path=local_path)

    async def delete_file(self, key: str) -> None:
        """Deletes one object (a missing key is fine)."""
        await self.client.delete_file(bucket=self.bucket_name, key=key)

    async def delete_files(self, keys: Iterable[str]) -> list[str]:
        """Deletes many objects; returns the keys deleted."""
        return await self.client.delete_files(bucket=self.bucket_name, keys=keys)

    async def copy_file(self, src_key: str, dst_key: str, *, dst_bucket: str | None = None) -> None:
        """Copies an object server-side, within the bucket or to ``dst_bucket``."""
        await self.client.copy_file(
            src_bucket=self.bucket_name, src_key=src_key, dst_bucket=dst_bucket, dst_key=dst_key
        )

    async def file_exists(self, key: str) -> bool:
        """Whether ``key`` exists."""
        return await self.client.file_exists(bucket=self.bucket_name, key=key)

    async def head_object(self, key: str) -> dict[str, Any]:
        """An object's metadata."""
        return await self.client.head_object(bucket=self.bucket_name, key=key)

    async def list_files(self, prefix: str = "", max_keys: int | None = None) -> list[str]:
        """Every key under ``prefix`` (capped by ``max_keys``)."""
        return await self.client.list_files(
            bucket=self.bucket_name, prefix=prefix, max_keys=max_keys
        )

    async def list_objects(self, prefix: str = "", max_keys: int = 1000) -> dict[str, Any]:
        """The folder view one level under ``prefix``."""
        return await self.client.list_objects(
            bucket=self.bucket_name, prefix=prefix, max_keys=max_keys
        )

    def get_url(self, key: str) -> str:
        """The object's public or endpoint URL."""
        return self.client.get_url(bucket=self.bucket_name, key=key)

    async def signed_download_url(
        self,
        key: str,
        *,
        expires_in: int = 3600,
        response_content_disposition: str | None = None,
        response_content_type: str | None = None,
    ) -> str:
        """A presigned GET URL."""
        return await self.client.signed_download_url(
            bucket=self.bucket_name,
            key=key,
            expires_in=expires_in,
            response_content_disposition=response_content_disposition,
            response_content_type=response_content_type,
        )

    async def signed_upload_url(
        self, key: str, *, expires_in: int = 3600, content_type: str | None = None
    ) -> str:
        """A presigned PUT URL."""
        return await self.client.signed_upload_url(
            bucket=self.bucket_name, key=key, expires_in=expires_in, content_type=content_type
        )
