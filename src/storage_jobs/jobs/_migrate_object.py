"""One object of a migration batch: look, copy (or move), verify, and say what happened."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..storage import AttributeLoss, StorageClient, StorageError, StorageObjectNotFoundError
from ._content_match import same_content, stored_checksums
from ._context import JobContext
from ._filters import ObjectFilter
from ._migrate_copy import copy_one, described
from ._move import finish_move, moved_before
from ._prefix_models import MigrateJob, ObjectRef
from ._readback import compare_by_reading
from ._restore import NOT_RESTORED, not_restored_message
from ._retry import is_retryable

__all__ = ["Outcome", "migrate_one"]


Outcome = tuple[str, int, str | None, str, str | None]
"""One object's (status, bytes copied, error code, message, new version)."""


async def migrate_one(
    ctx: JobContext,
    source: StorageClient,
    spec: MigrateJob,
    obj: ObjectRef,
    dst_key: str,
    check: bool,
    keep: ObjectFilter,
    lost: list[AttributeLoss] | None = None,
) -> Outcome:
    """Copies one object; returns (status, bytes copied, error code, message, new version).

    What the copy could not keep of its source is added to ``lost``.
    """
    attempt = 0
    while True:
        attempt += 1
        if lost is not None:
            lost.clear()  # an attempt that failed after its copy copies (and loses) again
        try:
            obj = await described(source, spec.src_bucket, obj)
            size = obj.size or 0
            if not keep.attributes_selected(obj.size, obj.last_modified, obj.storage_class):
                return "filtered", 0, None, "", None
            # An inventory's size and ETag are a day old: matching the destination against
            # them would call a source rewritten since identical to its old copy, and verifying
            # a fresh copy against them would call it a mismatch.
            stale = spec.manifest is not None and spec.manifest.format == "s3-inventory"
            dst: dict[str, Any] | None = None
            if check:
                with contextlib.suppress(StorageObjectNotFoundError):
                    dst = await ctx.storage.head_object(bucket=spec.dst_bucket, key=dst_key)
            src: dict[str, Any] = {"size": size, "etag": obj.etag, "metadata": {}}
            # The strongest evidence needs the source's stored checksums, if any.
            # A move compares the source before its delete with what was copied: fresh values.
            proving = (spec.verify or spec.delete_source) and not spec.dry_run
            if (dst is not None and (stored_checksums(dst) or stale)) or (stale and proving):
                src = await source.head_object(
                    bucket=spec.src_bucket, key=obj.key, version_id=obj.version_id
                )
                size = int(src["size"])
                obj = obj.model_copy(update={"size": size, "etag": src["etag"]})
            if dst is not None and same_content(src, dst):
                if spec.delete_source and not spec.dry_run:
                    # Identical already: the source goes once that is proven, not claimed.
                    status, code, message = await finish_move(
                        ctx, source, spec, obj, dst_key, None, read_back=False
                    )
                    return status, 0, code, message, None
                return ("would_skip" if spec.dry_run else "skipped"), 0, None, "", None
            if spec.dry_run:
                return ("would_move" if spec.delete_source else "would_copy"), 0, None, "", None
            expected, new_version = await copy_one(ctx, source, spec, obj, dst_key, lost)
            if spec.verify:
                problem = await compare_by_reading(
                    source,
                    spec.src_bucket,
                    obj.key,
                    obj.etag,
                    ctx.storage,
                    spec.dst_bucket,
                    dst_key,
                    src_checksum=expected,
                    src_version_id=obj.version_id,
                )
                if problem:
                    return "mismatch", 0, "ChecksumMismatch", problem, new_version
            if spec.delete_source:
                status, code, message = await finish_move(
                    ctx, source, spec, obj, dst_key, expected, read_back=spec.verify
                )
                return status, size if status == "moved" else 0, code, message, new_version
            return "copied", size, None, "", new_version
        except StorageObjectNotFoundError as exc:
            if exc.bucket == spec.src_bucket and exc.key == obj.key:
                if spec.delete_source and await moved_before(ctx, spec, dst_key):
                    why = "source already gone, its copy in place: moved by an earlier run"
                    return "moved", 0, None, why, None
                # Deleted since it was listed: nothing to copy, and not a failure to hide.
                return "failed", 0, "NoSuchKey", "source missing (deleted after listing?)", None
            return "failed", 0, exc.code, exc.message, None
        except StorageError as exc:
            if is_retryable(exc) and ctx.object_retry.should_retry(attempt):
                await asyncio.sleep(ctx.object_retry.delay(attempt))
                continue
            if exc.code in NOT_RESTORED:
                return "failed", 0, exc.code, not_restored_message(obj, exc.message), None
            return "failed", 0, exc.code, exc.message, None
