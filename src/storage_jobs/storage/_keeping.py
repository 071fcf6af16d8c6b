"""Writing an object's attributes where a destination may refuse some: never silently.

A write that carries a source's attributes (``ObjectAttributes``) goes out with all of them.
If the destination refuses the request, each attribute it may refuse (``DROPPABLE``, and not
asked for explicitly) is left out in turn, the one the error names first; the first request
that then succeeds tells which attribute was refused, and that loss is returned (and
remembered for the bucket, so the next object does not ask again). A refusal no single
attribute explains is raised as it came. Object Lock is applied after the write, where the
destination bucket has Object Lock; a website redirect is checked after the write, because
some servers (SeaweedFS) accept it and store nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from ._attributes import DROPPABLE, AttributeLoss, ObjectAttributes
from ._config import StorageConfig
from ._errors import StorageError, StorageObjectNotFoundError, map_backend_error
from ._limiter import RequestLimiter
from ._s3_connection import Connection

__all__ = ["Keeping", "droppable"]

T = TypeVar("T")

# Statuses of a refusal that may be an attribute's: bad request, denied, not implemented, and
# the 500 some servers (SeaweedFS) answer encryption headers with. Never throttling or 404.
_REFUSAL_STATUSES = frozenset({400, 403, 500, 501})
_NOT_REFUSALS = frozenset({"SlowDown", "Throttling", "RequestTimeout", "ServiceUnavailable"})
# Words of an error message that point at one attribute (asked first).
_HINTS: dict[str, tuple[str, ...]] = {
    "sse": ("encrypt", "kms", "sse"),
    "tags": ("tag",),
    "storage_class": ("storage class", "storageclass", "storage-class"),
    "website_redirect_location": ("redirect",),
}


def droppable(required: Iterable[str]) -> frozenset[str]:
    """The attributes a write may leave out when refused: all droppable ones but ``required``."""
    return frozenset(DROPPABLE) - frozenset(required)


class Keeping(Connection):
    """Sends a write with its attributes and says which the destination could not keep."""

    def __init__(self, config: StorageConfig, *, limiter: RequestLimiter | None = None) -> None:
        """Starts with nothing known about any destination."""
        super().__init__(config, limiter=limiter)
        # (bucket, attribute, value) -> why the bucket refused it; bucket -> lock config answer.
        self._refused: dict[tuple[str, str, str], str] = {}
        self._locks: dict[str, str | None] = {}

    async def object_tags(
        self, *, bucket: str, key: str, version_id: str | None = None
    ) -> dict[str, str]:
        """An object's tags (``GetObjectTagging``)."""
        args: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        answer = await self._call(self.s3.get_object_tagging(**args), bucket=bucket, key=key)
        return {t["Key"]: t["Value"] for t in answer.get("TagSet", [])}

    async def _send_keeping(
        self,
        request: Callable[[frozenset[str]], Awaitable[T]],
        attributes: ObjectAttributes,
        *,
        bucket: str,
        may_drop: frozenset[str],
    ) -> tuple[T, list[AttributeLoss]]:
        """Sends ``request(drop)``; on a refusal, again without one droppable attribute."""
        held = [a for a in DROPPABLE if a in may_drop and attributes.has(a)]
        lost: list[AttributeLoss] = []
        drop: set[str] = set()
        for name in held:
            reason = self._refused.get((bucket, name, _value(attributes, name)))
            if reason is not None:
                drop.add(name)
                lost.append(AttributeLoss(name, reason))
        try:
            return await request(frozenset(drop)), lost
        except Exception as exc:
            error = map_backend_error(exc, bucket=bucket)
            suspects = [a for a in held if a not in drop]
            if not suspects or not _may_be_refusal(error):
                raise
            text = f"{error.code} {error.message}".lower()
            suspects.sort(key=lambda a: not any(w in text for w in _HINTS.get(a, ())))
            for name in suspects:
                try:
                    answer = await request(frozenset(drop | {name}))
                except Exception:  # noqa: S112 - still refused: the next suspect, then the error
                    continue
                reason = f"the destination refused it ({error.code}: {error.message})"
                self._refused[(bucket, name, _value(attributes, name))] = reason
                return answer, [*lost, AttributeLoss(name, reason)]
            raise

    async def _after_write(
        self,
        attributes: ObjectAttributes,
        *,
        bucket: str,
        key: str,
        version_id: str | None,
        refused: Sequence[AttributeLoss] = (),
    ) -> list[AttributeLoss]:
        """Applies Object Lock to the new object and checks a redirect was stored.

        ``refused``: what the write itself left out (a redirect refused there was not sent).
        """
        sent_redirect = not any(x.attribute == "website_redirect_location" for x in refused)
        lost: list[AttributeLoss] = []
        target: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            target["VersionId"] = version_id
        if attributes.has("object_lock"):
            lost += await self._apply_lock(attributes, target)
        if sent_redirect and attributes.website_redirect_location:
            answer = await self._call(self.s3.head_object(**target), bucket=bucket, key=key)
            if answer.get("WebsiteRedirectLocation") != attributes.website_redirect_location:
                lost.append(
                    AttributeLoss(
                        "website_redirect_location", "the destination accepted it but kept none"
                    )
                )
        return lost

    async def _apply_lock(
        self, attributes: ObjectAttributes, target: dict[str, Any]
    ) -> list[AttributeLoss]:
        bucket = target["Bucket"]
        missing = await self._lock_missing(bucket)
        if missing is not None:
            return [AttributeLoss("object_lock", missing)]
        until = attributes.object_lock_retain_until
        try:
            # A retention already over locks nothing: the source is no longer locked either.
            if attributes.object_lock_mode and until is not None and until > datetime.now(UTC):
                await self.s3.put_object_retention(
                    **target,
                    Retention=cast(
                        "Any", {"Mode": attributes.object_lock_mode, "RetainUntilDate": until}
                    ),
                )
            if attributes.legal_hold == "ON":
                await self.s3.put_object_legal_hold(**target, LegalHold={"Status": "ON"})
        except Exception as exc:
            error = map_backend_error(exc, bucket=bucket, key=target["Key"])
            if isinstance(error, StorageObjectNotFoundError):
                raise error from exc
            return [AttributeLoss("object_lock", f"refused ({error.code}: {error.message})")]
        return []

    async def _lock_missing(self, bucket: str) -> str | None:
        """Why ``bucket`` cannot hold Object Lock settings, or None if it can (cached)."""
        if bucket not in self._locks:
            try:
                answer = await self.s3.get_object_lock_configuration(Bucket=bucket)
                enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                reason = (
                    None if enabled == "Enabled" else "the destination bucket has no Object Lock"
                )
            except Exception as exc:
                error = map_backend_error(exc, bucket=bucket)
                if error.code == "ObjectLockConfigurationNotFoundError":
                    reason = "the destination bucket has no Object Lock"
                else:
                    reason = f"the destination's Object Lock is unknown ({error.code})"
            self._locks[bucket] = reason
        return self._locks[bucket]


def _may_be_refusal(error: StorageError) -> bool:
    return (
        error.status in _REFUSAL_STATUSES
        and error.code not in _NOT_REFUSALS
        and not isinstance(error, StorageObjectNotFoundError)
        and error.code != "NoSuchBucket"
    )


def _value(attributes: ObjectAttributes, name: str) -> str:
    # A refused encryption or class is refused for that value; tags by the bucket, whatever.
    if name == "sse":
        return f"{attributes.sse}|{attributes.sse_kms_key_id}|{attributes.bucket_key_enabled}"
    return "" if name == "tags" else repr(getattr(attributes, name))
