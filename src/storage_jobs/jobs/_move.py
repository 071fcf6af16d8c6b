"""A move's second half: prove one copy, then delete its source (``MigrateJob(delete_source)``).

A source is deleted only once its copy is proven to hold its bytes, and only while it is still
the object that was copied:

1. The source is HEADed again: a different size or ETag (rewritten since it was listed or
   copied) keeps it, reported ``mismatch`` (``SourceChanged``).
2. The destination is proven: equal sizes, then a full-object checksum the server holds on the
   destination equal to the source's (the server's own, or the one the worker computed from the
   source's bytes with ``checksum=``), else equal single-part ETags (MD5s of the bytes). Metadata
   a worker copied (``sj-*``) is a claim, never proof. Without proof (a multipart source, an
   SSE-KMS ETag) the destination is read back and hashed. A difference keeps the source
   (``mismatch``).
3. The source is deleted by key (no version id). On a versioned source bucket that writes a
   delete marker: the key is gone from listings and every version stays, recoverable (a
   ``DeletePrefixJob(all_versions=True)`` removes them for good). ``all_versions`` moves are
   refused at enqueue: deleting copied versions by id would make older ones current again.

A delete that fails leaves both objects and is a per-key failure naming it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ..storage import StorageClient, StorageError, StorageObjectNotFoundError
from ._context import JobContext
from ._models import Checksum
from ._prefix_models import MigrateJob, ObjectRef
from ._readback import compare_by_reading

__all__ = ["copy_proven", "finish_move", "moved_before"]

Outcome = tuple[str, str | None, str]
"""``(status, error code, message)``: ``moved``, ``mismatch`` or ``failed``."""


def copy_proven(
    src: Mapping[str, Any], dst: Mapping[str, Any], expected: tuple[Checksum, str] | None
) -> bool | None:
    """What HEAD answers prove about a copy: same bytes (True), different (False), or unknown.

    Only evidence a server computed counts: its full-object checksums, and single-part ETags.
    Two MD5-looking ETags that differ are unknown, not different (an SSE-KMS ETag is no MD5).
    """
    if int(src["size"]) != int(dst["size"]):
        return False
    held: dict[str, str] = dict(dst.get("checksums") or {})
    wanted: dict[str, str] = dict(src.get("checksums") or {})
    if expected is not None:
        wanted.setdefault(expected[0], expected[1])
    for algorithm, value in wanted.items():
        if held.get(algorithm):
            return bool(held[algorithm] == value)
    src_etag, dst_etag = str(src.get("etag") or ""), str(dst.get("etag") or "")
    if src_etag and "-" not in src_etag and src_etag == dst_etag:
        return True
    return None


async def finish_move(
    ctx: JobContext,
    source: StorageClient,
    spec: MigrateJob,
    obj: ObjectRef,
    dst_key: str,
    expected: tuple[Checksum, str] | None,
    *,
    read_back: bool,
) -> Outcome:
    """Proves the copy of ``obj`` at ``dst_key`` and deletes its source (see the module).

    Args:
        ctx: The batch's context (its storage client holds the destination).
        source: The source's storage client.
        spec: The migration.
        obj: The source as it was copied (its size and ETag).
        dst_key: Where it was copied to.
        expected: The source's checksum the copy recorded, if any.
        read_back: Whether the copy was read back and matched already (``verify=True``).
    """
    try:
        now = await source.head_object(bucket=spec.src_bucket, key=obj.key)
    except StorageObjectNotFoundError:
        return "failed", "NoSuchKey", "source gone before its delete (deleted by someone else?)"
    if int(now["size"]) != (obj.size or 0) or (obj.etag and now["etag"] != obj.etag):
        return (
            "mismatch",
            "SourceChanged",
            f"source rewritten after it was copied (ETag {now['etag']}, copied {obj.etag}): kept",
        )
    if not read_back:
        dst = await ctx.storage.head_object(bucket=spec.dst_bucket, key=dst_key)
        proof = copy_proven(now, dst, expected)
        if proof is False:
            why = f"size {dst['size']} vs {now['size']}, etag {dst['etag']} vs {now['etag']}"
            return "mismatch", "ChecksumMismatch", f"copy differs ({why}): source kept"
        if proof is None:
            problem = await compare_by_reading(
                source,
                spec.src_bucket,
                obj.key,
                now["etag"],
                ctx.storage,
                spec.dst_bucket,
                dst_key,
                src_checksum=expected,
            )
            if problem:
                return "mismatch", "ChecksumMismatch", f"{problem}: source kept"
    try:
        await source.delete_file(bucket=spec.src_bucket, key=obj.key)
    except StorageError as exc:
        return "failed", exc.code, f"copied and proven, but the source was not deleted: {exc}"
    return "moved", None, ""


async def moved_before(ctx: JobContext, spec: MigrateJob, dst_key: str) -> bool:
    """Whether a source missing on a re-run was moved by an earlier run (its copy is there).

    A run that deleted a source and died before recording it leaves exactly that.
    """
    if ctx.attempt <= 1:
        return False
    with contextlib.suppress(StorageObjectNotFoundError):
        await ctx.storage.head_object(bucket=spec.dst_bucket, key=dst_key)
        return True
    return False
