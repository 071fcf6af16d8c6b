"""One object of a migration: described (a manifest line's HEAD) and copied."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..storage import AttributeLoss, ObjectAttributes, StorageClient
from ._content_match import CHECKSUM_METADATA, SOURCE_ETAG_METADATA
from ._context import JobContext
from ._models import Checksum
from ._prefix_models import MigrateJob, ObjectRef
from ._readback import checksum_of
from ._write_options import copy_attributes

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


def kept_attributes(spec: MigrateJob, head: dict[str, Any]) -> ObjectAttributes:
    """What a migration's copy carries: the source's attributes it keeps, then those asked."""
    source = head.get("attributes") or ObjectAttributes(
        content_type=head.get("content_type"), metadata=head.get("metadata") or {}
    )
    return copy_attributes(source, spec.preserved(), spec.asked())


async def copy_one(
    ctx: JobContext,
    source: StorageClient,
    spec: MigrateJob,
    obj: ObjectRef,
    dst_key: str,
    lost: list[AttributeLoss] | None = None,
) -> tuple[tuple[Checksum, str] | None, str | None]:
    """Copies one object; returns the checksum it recorded (if asked for) and the new version.

    The copy carries what its source does (``kept_attributes``); what the destination could
    not keep is added to ``lost``.
    """
    version = obj.version_id
    # One HEAD: a plain CopyObject keeps neither class, encryption nor Object Lock.
    head = await source.head_object(bucket=spec.src_bucket, key=obj.key, version_id=version)
    kept = kept_attributes(spec, head)
    required = spec.required()
    if spec.src_endpoint is None and obj.etag and "-" not in obj.etag and not spec.checksum:
        # A single-part source copied in one request keeps its MD5 ETag: nothing to add.
        info = await ctx.storage.copy_object(
            src_bucket=spec.src_bucket,
            src_key=obj.key,
            dst_bucket=spec.dst_bucket,
            dst_key=dst_key,
            size=obj.size,
            src_version_id=version,
            attributes=kept,
            required=required,
        )
        if lost is not None:
            lost.extend(info.lost)
        return None, info.version_id
    metadata: dict[str, Any] = {**kept.metadata, SOURCE_ETAG_METADATA: obj.etag}
    expected: tuple[Checksum, str] | None = None
    if spec.checksum is not None:
        # The server's checksum or the one a worker recorded; else one extra read of the source.
        value = await checksum_of(source, spec.src_bucket, obj.key, head, spec.checksum, version)
        metadata[CHECKSUM_METADATA[spec.checksum]] = value
        expected = (spec.checksum, value)
    kept = kept.with_values(metadata=metadata)
    if spec.src_endpoint is None:
        info = await ctx.storage.copy_object(
            src_bucket=spec.src_bucket,
            src_key=obj.key,
            dst_bucket=spec.dst_bucket,
            dst_key=dst_key,
            size=obj.size,
            src_version_id=version,
            checksum=spec.checksum,
            attributes=kept,
            required=required,
        )
    else:
        if "tags" in spec.preserved() and kept.tags is None:
            # A new object on another endpoint: the tags must be read to be sent.
            read = await source.object_attributes(
                bucket=spec.src_bucket, key=obj.key, version_id=version, head=head
            )
            kept = dataclasses.replace(kept, tags=read.tags)
        info = await ctx.storage.upload_stream(
            bucket=spec.dst_bucket,
            key=dst_key,
            stream=source.stream_object(bucket=spec.src_bucket, key=obj.key, version_id=version),
            checksum=spec.checksum,
            attributes=kept,
            required=required,
        )
    if lost is not None:
        lost.extend(info.lost)
    return expected, info.version_id
