"""Restores: archived objects (GLACIER, DEEP_ARCHIVE) asked back and watched until readable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._errors import StorageError
from ._s3_connection import Connection

__all__ = ["ARCHIVED_CLASSES", "RestoreState", "Restores"]

ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
"""Storage classes whose objects cannot be read or copied until restored (GLACIER_IR can)."""


@dataclass(frozen=True)
class RestoreState:
    """Where an object stands, as its HEAD tells.

    Attributes:
        state: ``active`` (readable), ``archived`` (no restore asked), ``restoring`` (asked,
            not done) or ``restored`` (a temporary copy is readable).
        storage_class: Its class as the HEAD said (None: STANDARD).
        size: Its size.
        etag: Its ETag.
    """

    state: Literal["active", "archived", "restoring", "restored"]
    storage_class: str | None
    size: int
    etag: str


def restore_state(answer: dict[str, Any]) -> RestoreState:
    """Reads a HeadObject answer's class and ``x-amz-restore`` header."""
    cls = answer.get("StorageClass")
    header = str(answer.get("Restore") or "")
    size, etag = int(answer.get("ContentLength", 0)), str(answer.get("ETag", "")).strip('"')
    if cls not in ARCHIVED_CLASSES:
        return RestoreState("active", cls, size, etag)
    if not header:
        return RestoreState("archived", cls, size, etag)
    # ongoing-request="true" while restoring; "false" with an expiry-date once readable.
    ongoing = 'ongoing-request="true"' in header.replace(" ", "")
    return RestoreState("restoring" if ongoing else "restored", cls, size, etag)


class Restores(Connection):
    """The client's calls on archived objects."""

    async def restore_state(
        self, *, bucket: str, key: str, version_id: str | None = None
    ) -> RestoreState:
        """HEADs an object for its class and restore status.

        Raises:
            StorageObjectNotFoundError: If the key is missing.
        """
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        answer = await self._call(self.s3.head_object(**args), bucket=bucket, key=key)
        return restore_state(dict(answer))

    async def restore_object(
        self,
        *,
        bucket: str,
        key: str,
        days: int,
        tier: str,
        version_id: str | None = None,
    ) -> bool:
        """Asks S3 to restore an archived object for ``days`` at ``tier``.

        Returns:
            True if a restore started; False if one was in progress already.

        Raises:
            StorageError: For any other refusal (``InvalidObjectState``: not archived).
        """
        args: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "RestoreRequest": {"Days": days, "GlacierJobParameters": {"Tier": tier}},
        }
        if version_id:
            args["VersionId"] = version_id
        try:
            await self._call(self.s3.restore_object(**args), bucket=bucket, key=key)
        except StorageError as exc:
            if exc.code == "RestoreAlreadyInProgress":
                return False
            raise
        return True
