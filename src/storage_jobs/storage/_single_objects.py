"""SingleObjects: one object at a time: put, fetch, delete, HEAD, and server-side copies."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._attributes import AttributeLoss, ObjectAttributes, attributes_from_head
from ._checksums import ChecksumAlgorithm, checksum_args, full_object_checksums
from ._errors import (
    StorageBucketNotFoundError,
    StorageError,
    StorageObjectNotFoundError,
    map_backend_error,
)
from ._keeping import droppable
from ._multipart import multipart_copy
from ._objects import ObjectInfo, strip_etag
from ._transfer import Transfers

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CopySourceTypeDef

__all__ = ["SingleObjects"]


class SingleObjects(Transfers):
    """The reference API's calls on one object; copies above a threshold go multipart."""

    async def upload_file(
        self,
        *,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        """Uploads bytes to S3 in one ``PutObject``."""
        await self.put_bytes(
            bucket=bucket,
            key=key,
            data=data,
            content_type=content_type,
            metadata=metadata,
            extra_args=extra_args,
        )

    async def fetch_file(self, *, bucket: str, key: str) -> bytes:
        """Fetches a whole object into memory.

        Raises:
            StorageObjectNotFoundError: If ``key`` does not exist.
            StorageBucketNotFoundError: If ``bucket`` does not exist.
            StorageAccessDeniedError: If the backend denies the request.
            StorageBackendError: For any other backend failure.
        """

        async def read() -> bytes:
            answer = await self.s3.get_object(Bucket=bucket, Key=key)
            body = answer["Body"]
            # `async with body as x` would hand back aiohttp's response, not botocore's body.
            async with body:
                return await body.read()

        return await self._call(read(), bucket=bucket, key=key)

    async def delete_file(self, *, bucket: str, key: str) -> None:
        """Deletes one object; a missing key succeeds silently (S3 deletes are idempotent)."""
        await self._call(self.s3.delete_object(Bucket=bucket, Key=key), bucket=bucket, key=key)

    async def head_object(
        self, *, bucket: str, key: str, version_id: str | None = None
    ) -> dict[str, Any]:
        """Returns an object's metadata without its body.

        Args:
            bucket: The bucket.
            key: The key.
            version_id: HEAD this version instead of the current one.

        Returns:
            ``key``, ``size``, ``etag``, ``last_modified``, ``content_type``, ``metadata``,
            ``storage_class`` (None for STANDARD on most servers), ``version_id``, and
            ``checksums``: the full-object additional checksums the server holds, as
            ``{"crc32c" | "sha256": hex}`` (empty with ``additional_checksums`` off);
            ``attributes``: everything else it carries (``ObjectAttributes``, tags unread)
            and ``tag_count`` (None where the server does not say).

        Raises:
            StorageObjectNotFoundError: If the key is missing.
            StorageBucketNotFoundError: If the bucket is missing (told apart with a bucket HEAD).
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        if self.config.additional_checksums:
            args["ChecksumMode"] = "ENABLED"
        try:
            answer = await self.s3.head_object(**args)
        except Exception as exc:
            error = map_backend_error(exc, bucket=bucket, key=key)
            if isinstance(error, StorageObjectNotFoundError):
                await self._raise_if_bucket_missing(bucket)
            raise error from exc
        return {
            "key": key,
            "size": int(answer.get("ContentLength", 0)),
            "etag": strip_etag(answer.get("ETag")),
            "last_modified": answer.get("LastModified"),
            "content_type": answer.get("ContentType"),
            "metadata": dict(answer.get("Metadata", {})),
            "storage_class": answer.get("StorageClass"),
            "version_id": answer.get("VersionId"),
            "checksums": full_object_checksums(answer),
            "attributes": attributes_from_head(answer),
            "tag_count": answer.get("TagCount"),
        }

    async def object_attributes(
        self,
        *,
        bucket: str,
        key: str,
        version_id: str | None = None,
        head: dict[str, Any] | None = None,
    ) -> ObjectAttributes:
        """Everything an object carries besides its bytes, its tags included.

        Args:
            bucket: The bucket.
            key: The key.
            version_id: Read this version.
            head: The object's ``head_object`` answer, if already read (saves the HEAD).
        """
        if head is None:
            head = await self.head_object(bucket=bucket, key=key, version_id=version_id)
        attributes: ObjectAttributes = head["attributes"]
        tags: dict[str, str] = {}
        # A server that does not count tags is asked for them.
        if head.get("tag_count") is None or int(head["tag_count"]) > 0:
            tags = await self.object_tags(bucket=bucket, key=key, version_id=version_id)
        return dataclasses.replace(attributes, tags=tags)

    async def file_exists(self, *, bucket: str, key: str) -> bool:
        """Checks whether a key exists.

        Returns ``False`` for a missing key only: a missing bucket raises.

        Raises:
            StorageBucketNotFoundError: If the bucket does not exist.
        """
        try:
            await self.head_object(bucket=bucket, key=key)
        except StorageObjectNotFoundError:
            return False
        return True

    async def copy_file(
        self, *, src_bucket: str, src_key: str, dst_bucket: str | None = None, dst_key: str
    ) -> None:
        """Copies an object server-side; above ``copy_multipart_threshold`` with UploadPartCopy.

        Raises:
            StorageObjectNotFoundError: If the source object does not exist.
            StorageBucketNotFoundError: If either bucket does not exist.
        """
        await self.copy_object(
            src_bucket=src_bucket, src_key=src_key, dst_bucket=dst_bucket, dst_key=dst_key
        )

    async def copy_object(
        self,
        *,
        src_bucket: str,
        src_key: str,
        dst_bucket: str | None = None,
        dst_key: str,
        size: int | None = None,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        src_version_id: str | None = None,
        checksum: ChecksumAlgorithm | None = None,
        attributes: ObjectAttributes | None = None,
        required: Iterable[str] = (),
    ) -> ObjectInfo:
        """Like ``copy_file``, but says what was stored; a known ``size`` saves the source HEAD.

        Without ``attributes`` the server's own copy rules apply: a sized copy below the
        threshold is a single ``CopyObject`` request (content headers, metadata and tags kept;
        the storage class, encryption and Object Lock not), a multipart copy sends the
        source's attributes read by its HEAD (tags and Object Lock not).

        Args:
            src_bucket: Source bucket.
            src_key: Source key.
            dst_bucket: Destination bucket (the source's when None).
            dst_key: Destination key.
            size: The source's size, if known.
            metadata: Replaces the copy's user metadata (with ``content_type``); None keeps
                the source's.
            content_type: The copy's content type when ``metadata`` replaces the source's.
            src_version_id: Copy this version of the source.
            checksum: Ask the server to compute this additional checksum of the copy
                (``ChecksumAlgorithm``; single-request copies, with ``additional_checksums``).
            attributes: Everything the copy is to carry (``object_attributes`` of the source,
                changed as wanted; ``metadata`` and ``content_type``, if given, win). Tags left
                unread (None) are copied by the server. What the destination refuses is
                left out and listed in the answer's ``lost``, unless named in ``required``.
            required: Attributes never to leave out (asked for, not merely kept).
        """
        dst_bucket = dst_bucket or src_bucket
        if attributes is not None:
            return await self._copy_keeping(
                src=(src_bucket, src_key, src_version_id),
                dst_bucket=dst_bucket,
                dst_key=dst_key,
                size=size,
                attributes=attributes.with_values(metadata=metadata, content_type=content_type),
                required=required,
                checksum=checksum,
            )
        head: dict[str, Any] | None = None
        if size is None or size > self.config.copy_multipart_threshold:
            head = await self.head_object(bucket=src_bucket, key=src_key, version_id=src_version_id)
            size = int(head["size"])
        if size > self.config.copy_multipart_threshold:
            assert head is not None
            kept = head["attributes"].with_values(metadata=metadata, content_type=content_type)
            extra = kept.write_args()
            try:
                return await multipart_copy(
                    self.s3,
                    src_bucket=src_bucket,
                    src_key=src_key,
                    dst_bucket=dst_bucket,
                    dst_key=dst_key,
                    size=size,
                    chunksize=self.config.multipart_chunksize,
                    concurrency=self.config.multipart_concurrency,
                    extra=extra,
                    src_version_id=src_version_id,
                )
            except Exception as exc:
                raise await self._copy_error(exc, src_bucket, src_key, dst_bucket, dst_key) from exc
        source: CopySourceTypeDef = {"Bucket": src_bucket, "Key": src_key}
        if src_version_id:
            source["VersionId"] = src_version_id
        replace: dict[str, Any] = {}
        if metadata is not None:
            replace = {"MetadataDirective": "REPLACE", "Metadata": metadata}
            if content_type:
                replace["ContentType"] = content_type
        if checksum is not None and self.config.additional_checksums:
            replace.update(checksum_args(checksum))
        try:
            answer = await self.s3.copy_object(
                Bucket=dst_bucket,
                Key=dst_key,
                CopySource=source,
                **replace,
            )
        except Exception as exc:
            raise await self._copy_error(exc, src_bucket, src_key, dst_bucket, dst_key) from exc
        etag = strip_etag(answer.get("CopyObjectResult", {}).get("ETag"))
        return ObjectInfo(
            bucket=dst_bucket, key=dst_key, size=size, etag=etag, version_id=answer.get("VersionId")
        )

    async def _copy_keeping(
        self,
        *,
        src: tuple[str, str, str | None],
        dst_bucket: str,
        dst_key: str,
        size: int | None,
        attributes: ObjectAttributes,
        required: Iterable[str],
        checksum: ChecksumAlgorithm | None,
    ) -> ObjectInfo:
        """A copy that carries ``attributes``: ``CopyObject`` (REPLACE) or ``UploadPartCopy``."""
        src_bucket, src_key, src_version_id = src
        may_drop = droppable(required)
        if size is None:
            head = await self.head_object(bucket=src_bucket, key=src_key, version_id=src_version_id)
            size = int(head["size"])
        refused: list[AttributeLoss] = []
        try:
            if size > self.config.copy_multipart_threshold:
                if attributes.tags is None:
                    # A multipart copy writes a new object: its tags must be sent.
                    tags = await self.object_tags(
                        bucket=src_bucket, key=src_key, version_id=src_version_id
                    )
                    attributes = dataclasses.replace(attributes, tags=tags)

                async def create() -> Any:
                    async def start(drop: frozenset[str]) -> Any:
                        return await self.s3.create_multipart_upload(
                            Bucket=dst_bucket, Key=dst_key, **attributes.write_args(drop)
                        )

                    answer, lost = await self._send_keeping(
                        start, attributes, bucket=dst_bucket, may_drop=may_drop
                    )
                    refused.extend(lost)
                    return answer

                info = await multipart_copy(
                    self.s3,
                    src_bucket=src_bucket,
                    src_key=src_key,
                    dst_bucket=dst_bucket,
                    dst_key=dst_key,
                    size=size,
                    chunksize=self.config.multipart_chunksize,
                    concurrency=self.config.multipart_concurrency,
                    extra={},
                    src_version_id=src_version_id,
                    create=create,
                )
            else:
                info = await self._copy_once(
                    src, dst_bucket, dst_key, size, attributes, may_drop, checksum, refused
                )
        except Exception as exc:
            raise await self._copy_error(exc, src_bucket, src_key, dst_bucket, dst_key) from exc
        refused += await self._after_write(
            attributes,
            bucket=dst_bucket,
            key=dst_key,
            version_id=info.version_id,
            refused=refused,
        )
        return dataclasses.replace(info, lost=tuple(refused))

    async def _copy_once(
        self,
        src: tuple[str, str, str | None],
        dst_bucket: str,
        dst_key: str,
        size: int,
        attributes: ObjectAttributes,
        may_drop: frozenset[str],
        checksum: ChecksumAlgorithm | None,
        refused: list[AttributeLoss],
    ) -> ObjectInfo:
        """One ``CopyObject`` that replaces what the copy carries with ``attributes``."""
        source: CopySourceTypeDef = {"Bucket": src[0], "Key": src[1]}
        if src[2]:
            source["VersionId"] = src[2]
        sums = checksum_args(checksum) if checksum and self.config.additional_checksums else {}

        async def copy(drop: frozenset[str]) -> Any:
            args = attributes.write_args(drop)
            # Unread tags are the server's to copy; read (or cleared, or refused) ones are sent.
            copy_tags = attributes.tags is None and "tags" not in drop
            return await self.s3.copy_object(
                Bucket=dst_bucket,
                Key=dst_key,
                CopySource=source,
                MetadataDirective="REPLACE",
                TaggingDirective="COPY" if copy_tags else "REPLACE",
                **args,
                **sums,
            )

        answer, lost = await self._send_keeping(
            copy, attributes, bucket=dst_bucket, may_drop=may_drop
        )
        refused.extend(lost)
        etag = strip_etag(answer.get("CopyObjectResult", {}).get("ETag"))
        return ObjectInfo(
            bucket=dst_bucket, key=dst_key, size=size, etag=etag, version_id=answer.get("VersionId")
        )

    async def _copy_error(
        self, exc: Exception, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str
    ) -> StorageError:
        """Maps a failed copy, finding out which side is missing when the answer doesn't say.

        A copy's not-found names neither side, and some servers (SeaweedFS) answer a missing
        destination bucket with 500 InternalError; a source HEAD and a destination bucket HEAD
        tell. Throttling (503) is not probed, so a struggling server gets no extra requests.
        """
        error = map_backend_error(exc, bucket=dst_bucket, key=dst_key)
        if isinstance(error, StorageObjectNotFoundError | StorageBucketNotFoundError) or (
            error.status == 500
        ):
            await self.head_object(bucket=src_bucket, key=src_key)
            await self._raise_if_bucket_missing(dst_bucket)
        return error
