"""What a job asks its writes to carry, and what a copy keeps of its source; validated here.

``WriteOptions`` (uploads and copies) and ``MigrateWriteOptions`` (migrations) name
attributes the written object gets whatever its source had; ``preserve`` says which of the
source's attributes a copy keeps (all by default). An attribute asked for is required: a
destination that refuses it fails the write. One merely kept may be dropped when refused,
and the loss is reported (``storage.ObjectInfo.lost``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..storage import ATTRIBUTES, Attribute, ObjectAttributes

__all__ = [
    "CannedAcl",
    "MigrateWriteOptions",
    "PreserveOption",
    "ServerSideEncryption",
    "StorageClassName",
    "WriteOptions",
    "copy_attributes",
]

StorageClassName = Literal[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
]
"""The storage classes a write may name (S3's, less those of Outposts, Snow and FSx)."""

ServerSideEncryption = Literal["AES256", "aws:kms"]
"""SSE-S3 or SSE-KMS."""

CannedAcl = Literal[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
]

_MAX_TAGS = 10
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256
# S3's tag charset: letters, digits and spaces in any script, and + - = . _ : / @
_TAG_CHARS = re.compile(r"^[\w\s+\-=.:/@]*$")
_HEADER = Field(default=None, min_length=1, max_length=1024)


def _check_tags(tags: dict[str, str] | None) -> dict[str, str] | None:
    if tags is None:
        return None
    if len(tags) > _MAX_TAGS:
        raise ValueError(f"at most {_MAX_TAGS} tags per object, got {len(tags)}")
    for key, value in tags.items():
        if not 1 <= len(key) <= _MAX_TAG_KEY:
            raise ValueError(f"tag key {key[:20]!r}... must be 1..{_MAX_TAG_KEY} characters")
        if len(value) > _MAX_TAG_VALUE:
            raise ValueError(f"tag {key!r}: value over {_MAX_TAG_VALUE} characters")
        if key.startswith("aws:"):
            raise ValueError(f"tag key {key!r}: the aws: prefix is reserved")
        for text in (key, value):
            if not _TAG_CHARS.match(text):
                raise ValueError(
                    f"tag {key!r}: only letters, digits, spaces and + - = . _ : / @ are allowed"
                )
    return tags


class _SseFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sse: ServerSideEncryption | None = None
    sse_kms_key_id: str | None = Field(default=None, min_length=1, max_length=2048)
    acl: CannedAcl | None = None

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> Self:
        if self.sse_kms_key_id is not None and self.sse != "aws:kms":
            raise ValueError("sse_kms_key_id: only with sse='aws:kms'")
        return self

    def _sse_values(self) -> dict[str, Any]:
        if self.sse is None:
            return {}
        # Asked-for encryption replaces the source's, key and bucket-key setting included.
        return {"sse": self.sse, "sse_kms_key_id": self.sse_kms_key_id, "bucket_key_enabled": None}


class PreserveOption(BaseModel):
    """Which of the source's attributes a copy keeps.

    Attributes:
        preserve: True (all, the default), False (none: the copy gets only what is asked
            for, like a fresh upload), or a list of attribute names (``content_type``,
            ``cache_control``, ``content_disposition``, ``content_encoding``,
            ``content_language``, ``expires``, ``website_redirect_location``, ``metadata``,
            ``tags``, ``storage_class``, ``sse``, ``object_lock``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    preserve: bool | list[Attribute] = True

    def preserved(self) -> frozenset[str]:
        """The attributes kept from the source."""
        if self.preserve is True:
            return frozenset(ATTRIBUTES)
        if self.preserve is False:
            return frozenset()
        return frozenset(self.preserve)


class WriteOptions(_SseFields):
    """Attributes an upload or copy writes, whatever the source had.

    Attributes:
        storage_class: The storage class.
        sse: ``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS, with ``sse_kms_key_id`` or the
            bucket's default KMS key).
        sse_kms_key_id: The KMS key (only with ``sse="aws:kms"``).
        tags: Up to 10 tags (key up to 128 characters, value up to 256).
        cache_control: Cache-Control.
        content_disposition: Content-Disposition.
        content_encoding: Content-Encoding (the bytes are stored as given).
        content_language: Content-Language.
        expires: Expires (timezone-aware).
        acl: A canned ACL.
    """

    storage_class: StorageClassName | None = None
    tags: dict[str, str] | None = None
    cache_control: str | None = _HEADER
    content_disposition: str | None = _HEADER
    content_encoding: str | None = _HEADER
    content_language: str | None = _HEADER
    expires: AwareDatetime | None = None

    @field_validator("tags")
    @classmethod
    def _tags_fit(cls, tags: dict[str, str] | None) -> dict[str, str] | None:
        return _check_tags(tags)

    def asked(self) -> dict[str, Any]:
        """The ``ObjectAttributes`` fields these options set."""
        fields = ("storage_class", "tags", "cache_control", "content_disposition")
        values = {name: getattr(self, name) for name in fields}
        values.update(
            content_encoding=self.content_encoding,
            content_language=self.content_language,
            expires=self.expires,
            acl=self.acl,
        )
        return {k: v for k, v in values.items() if v is not None} | self._sse_values()

    def required(self) -> frozenset[str]:
        """The attributes asked for (a destination refusing one fails the write)."""
        return frozenset(k for k in self.asked() if k in ATTRIBUTES)


class MigrateWriteOptions(_SseFields, PreserveOption):
    """What every copy of a migration writes, and what it keeps of its source.

    Attributes:
        dst_storage_class: Every copy's storage class (instead of its source's).
        sse: Encrypt every copy so (instead of as its source was).
        sse_kms_key_id: The KMS key of ``sse="aws:kms"``.
        acl: A canned ACL for every copy.
    """

    dst_storage_class: StorageClassName | None = None

    def asked(self) -> dict[str, Any]:
        """The ``ObjectAttributes`` fields these options set."""
        values: dict[str, Any] = {"storage_class": self.dst_storage_class, "acl": self.acl}
        return {k: v for k, v in values.items() if v is not None} | self._sse_values()

    def required(self) -> frozenset[str]:
        """The attributes asked for (a destination refusing one fails the copy)."""
        return frozenset(k for k in self.asked() if k in ATTRIBUTES)


def copy_attributes(
    source: ObjectAttributes, keep: frozenset[str], asked: dict[str, Any]
) -> ObjectAttributes:
    """What a copy carries: the source's attributes named in ``keep``, then those ``asked``."""
    return dataclasses.replace(source.only(keep), **asked)
