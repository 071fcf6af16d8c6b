"""Archived sources of a migration: restored once each, waited for off the queue, then copied.

With ``MigrateJob(restore_archived=True)`` a batch meeting an archived source (``GLACIER``,
``DEEP_ARCHIVE``: by the listing's class, or a copy refused as not restored) HEADs it: no
restore asked yet gets one ``RestoreObject``; one in progress is waited for; one done is
copied as any object. S3 itself holds which restores were asked (the ``x-amz-restore``
header), so a re-run after a crash asks none twice. A batch with keys still restoring records
the rest, writes how many wait, and raises ``JobWaiting``: it goes back on the queue deferred
(no slot, no lease), and its re-run checks those keys only.
"""

from __future__ import annotations

from typing import Literal

from ..storage import StorageClient, StorageError
from ..storage._restores import ARCHIVED_CLASSES
from ._prefix_models import MigrateJob, ObjectRef

__all__ = ["NOT_RESTORED", "archived", "not_restored_message", "restore_step"]

NOT_RESTORED = frozenset({"InvalidObjectState", "ObjectNotInActiveTierError"})
"""Codes S3 refuses a read or copy of an archived, unrestored source with."""


def archived(obj: ObjectRef) -> bool:
    """Whether the listing says the object is archived."""
    return obj.storage_class in ARCHIVED_CLASSES


def not_restored_message(obj: ObjectRef, message: str) -> str:
    """A per-key failure's message for an archived source, naming its class."""
    cls = obj.storage_class or "an archive class"
    return (
        f"source is in {cls} and not restored: migrate with restore_archived=True or restore "
        f"it first ({message})"
    )


async def restore_step(
    source: StorageClient, spec: MigrateJob, obj: ObjectRef
) -> Literal["copy", "wait"] | tuple[str, str]:
    """Where an archived source stands; asks for its restore if none was asked.

    Returns:
        ``copy`` (readable), ``wait`` (restoring), or a failure ``(code, message)`` (the
        restore was refused).
    """
    try:
        state = await source.restore_state(
            bucket=spec.src_bucket, key=obj.key, version_id=obj.version_id
        )
        if state.state in ("active", "restored"):
            return "copy"
        if state.state == "archived":
            await source.restore_object(
                bucket=spec.src_bucket,
                key=obj.key,
                days=spec.restore_days,
                tier=spec.restore_tier,
                version_id=obj.version_id,
            )
    except StorageError as exc:
        cls = obj.storage_class or "archived"
        return exc.code, f"restore of a {cls} source refused: {exc.message}"
    return "wait"
