"""One object of a migration: described (a manifest line's HEAD) and copied."""

from __future__ import annotations

from typing import Any

from ..storage import StorageClient
from ._content_match import CHECKSUM_METADATA, SOURCE_ETAG_METADATA
from ._context import JobContext
from ._models import Checksum
from ._prefix_models import MigrateJob, ObjectRef
from ._readback import checksum_of

__all__ = ["copy_one", "described"]


async def described(source: StorageClient, bucket: str, obj: ObjectRef) -> ObjectRef:
    """The object with its size, ETag, time and class (a HEAD, for a manifest line)."""
    if obj.size is not None:
        return obj
    head = await source.head_object(bucket=bucket, key=obj.key, version_id=obj.version_id)
    return ObjectRef(
        key=obj.key,
        size=int(head["size"]),
        etag=head["etag"],
        last_modified=head["last_modified"],
        storage_class=head.get("storage_class"),
        version_id=obj.version_id,
    )


async def copy_one(
    ctx: JobContext, source: StorageClient, spec: MigrateJob, obj: ObjectRef, dst_key: str
) -> tuple[tuple[Checksum, str] | None, str | None]:
    """Copies one object; returns the checksum it recorded (if asked for) and the new version."""
    version = obj.version_id
    if spec.src_endpoint is None and obj.etag and "-" not in obj.etag and not spec.checksum:
        # A single-part source copied in one request keeps its MD5 ETag: nothing to add.
        info = await ctx.storage.copy_object(
            src_bucket=spec.src_bucket,
            src_key=obj.key,
            dst_bucket=spec.dst_bucket,
            dst_key=dst_key,
            size=obj.size,
            src_version_id=version,
        )
        return None, info.version_id
    head = await source.head_object(bucket=spec.src_bucket, key=obj.key, version_id=version)
    metadata: dict[str, Any] = {**head["metadata"], SOURCE_ETAG_METADATA: obj.etag}
    expected: tuple[Checksum, str] | None = None
    if spec.checksum is not None:
        # The server's checksum or the one a worker recorded; else one extra read of the source.
        value = await checksum_of(source, spec.src_bucket, obj.key, head, spec.checksum, version)
        metadata[CHECKSUM_METADATA[spec.checksum]] = value
        expected = (spec.checksum, value)
    if spec.src_endpoint is None:
        info = await ctx.storage.copy_object(
            src_bucket=spec.src_bucket,
            src_key=obj.key,
            dst_bucket=spec.dst_bucket,
            dst_key=dst_key,
            size=obj.size,
            metadata=metadata,
            content_type=head["content_type"],
            src_version_id=version,
            checksum=spec.checksum,
        )
        return expected, info.version_id
    info = await ctx.storage.upload_stream(
        bucket=spec.dst_bucket,
        key=dst_key,
        stream=source.stream_object(bucket=spec.src_bucket, key=obj.key, version_id=version),
        content_type=head["content_type"],
        metadata=metadata,
        checksum=spec.checksum,
    )
    return expected, info.version_id
