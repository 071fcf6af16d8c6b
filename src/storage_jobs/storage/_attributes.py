"""What an object carries besides its bytes, read from a HEAD and written back on a copy.

A copy that rewrites an object (``CopyObject`` with ``MetadataDirective=REPLACE``, a multipart
copy, a re-upload across endpoints) keeps only what its request sends, and even a plain
``CopyObject`` drops the storage class, the encryption and Object Lock settings. So every copy
path reads these attributes from the source and sends them all (``write_args``); Object Lock
is applied after the write, as some servers refuse it inside a copy request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args
from urllib.parse import urlencode

__all__ = [
    "ATTRIBUTES",
    "DROPPABLE",
    "Attribute",
    "AttributeLoss",
    "ObjectAttributes",
    "attributes_from_head",
]

Attribute = Literal[
    "content_type",
    "cache_control",
    "content_disposition",
    "content_encoding",
    "content_language",
    "expires",
    "website_redirect_location",
    "metadata",
    "tags",
    "storage_class",
    "sse",
    "object_lock",
]
"""An attribute a copy keeps; ``sse`` is the encryption with its KMS key id and bucket-key
setting, ``object_lock`` the lock mode, retain-until date and legal hold."""

ATTRIBUTES: tuple[Attribute, ...] = get_args(Attribute)

DROPPABLE: tuple[Attribute, ...] = ("sse", "tags", "storage_class", "website_redirect_location")
"""Attributes a destination may refuse: a copy that kept them from its source goes on without
them (reporting the loss) rather than failing; one asked for explicitly is never dropped."""

# Attribute -> (request argument, HEAD answer field) of the plain ones.
_FIELDS: dict[str, str] = {
    "content_type": "ContentType",
    "cache_control": "CacheControl",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
    "expires": "Expires",
    "website_redirect_location": "WebsiteRedirectLocation",
    "storage_class": "StorageClass",
}


@dataclass(frozen=True, slots=True)
class AttributeLoss:
    """An attribute a copy could not keep, and why (the server's refusal, or what it lacks)."""

    attribute: str
    reason: str

    def __str__(self) -> str:
        return f"{self.attribute}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ObjectAttributes:
    """Everything an object carries besides its bytes and checksums.

    Attributes:
        content_type: Content-Type.
        cache_control: Cache-Control.
        content_disposition: Content-Disposition.
        content_encoding: Content-Encoding (the bytes are stored as they are, never decoded).
        content_language: Content-Language.
        expires: Expires.
        website_redirect_location: x-amz-website-redirect-location.
        metadata: User metadata.
        tags: The object's tags; None when not read (a server-side copy then copies them).
        storage_class: The storage class (None: the server's default, STANDARD).
        sse: ``AES256``, ``aws:kms`` or ``aws:kms:dsse``; None leaves the bucket's default.
        sse_kms_key_id: The KMS key of ``aws:kms``.
        bucket_key_enabled: Whether an S3 Bucket Key is used for SSE-KMS.
        object_lock_mode: ``GOVERNANCE`` or ``COMPLIANCE``.
        object_lock_retain_until: Until when the lock holds.
        legal_hold: ``ON`` or ``OFF``.
        acl: A canned ACL to write (never read from a source: ACLs are not copied).
    """

    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    expires: datetime | None = None
    website_redirect_location: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] | None = None
    storage_class: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    bucket_key_enabled: bool | None = None
    object_lock_mode: str | None = None
    object_lock_retain_until: datetime | None = None
    legal_hold: str | None = None
    acl: str | None = None

    def only(self, keep: frozenset[str]) -> ObjectAttributes:
        """These attributes with those not named in ``keep`` cleared (tags: none)."""
        cleared: dict[str, Any] = {}
        for name in ATTRIBUTES:
            if name in keep:
                continue
            if name == "metadata":
                cleared["metadata"] = {}
            elif name == "tags":
                cleared["tags"] = {}
            elif name == "sse":
                cleared.update(sse=None, sse_kms_key_id=None, bucket_key_enabled=None)
            elif name == "object_lock":
                cleared.update(
                    object_lock_mode=None, object_lock_retain_until=None, legal_hold=None
                )
            else:
                cleared[name] = None
        return replace(self, **cleared)

    def with_values(self, **values: Any) -> ObjectAttributes:
        """A copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def has(self, attribute: str) -> bool:
        """Whether this attribute would be written (tags: only a non-empty set read)."""
        if attribute == "sse":
            return self.sse is not None
        if attribute == "object_lock":
            return self.object_lock_mode is not None or self.legal_hold == "ON"
        if attribute in ("metadata", "tags"):
            return bool(getattr(self, attribute))
        return getattr(self, attribute) is not None

    def write_args(self, drop: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The arguments of a write (PutObject, CreateMultipartUpload, CopyObject REPLACE).

        Those of the attributes in ``drop`` are left out. Object Lock is not among them: it is
        applied after the write.
        """
        args: dict[str, Any] = {}
        for name, arg in _FIELDS.items():
            value = getattr(self, name)
            if value is not None and name not in drop:
                args[arg] = value
        if self.storage_class == "STANDARD":
            args.pop("StorageClass", None)  # the default; some servers refuse naming it
        args["Metadata"] = dict(self.metadata)
        if self.tags and "tags" not in drop:
            args["Tagging"] = urlencode(sorted(self.tags.items()))
        if self.sse is not None and "sse" not in drop:
            args["ServerSideEncryption"] = self.sse
            if self.sse_kms_key_id and self.sse.startswith("aws:kms"):
                args["SSEKMSKeyId"] = self.sse_kms_key_id
            if self.bucket_key_enabled is not None and self.sse.startswith("aws:kms"):
                args["BucketKeyEnabled"] = self.bucket_key_enabled
        if self.acl is not None:
            args["ACL"] = self.acl
        return args

    def dropped_args(self, attribute: str) -> frozenset[str]:
        """The request arguments ``attribute`` stands for (to tell which one a server refused)."""
        if attribute == "sse":
            return frozenset({"ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled"})
        if attribute == "tags":
            return frozenset({"Tagging"})
        return frozenset({_FIELDS[attribute]}) if attribute in _FIELDS else frozenset()


def attributes_from_head(
    answer: Mapping[str, Any], tags: Mapping[str, str] | None = None
) -> ObjectAttributes:
    """The attributes a HeadObject answer names (plus the tags, read separately)."""
    values: dict[str, Any] = {name: answer.get(arg) for name, arg in _FIELDS.items()}
    if values["expires"] is not None and not isinstance(values["expires"], datetime):
        values["expires"] = None
    return ObjectAttributes(
        **values,
        metadata=dict(answer.get("Metadata") or {}),
        tags=None if tags is None else dict(tags),
        sse=answer.get("ServerSideEncryption"),
        sse_kms_key_id=answer.get("SSEKMSKeyId"),
        bucket_key_enabled=answer.get("BucketKeyEnabled"),
        object_lock_mode=answer.get("ObjectLockMode"),
        object_lock_retain_until=answer.get("ObjectLockRetainUntilDate"),
        legal_hold=answer.get("ObjectLockLegalHoldStatus"),
    )
