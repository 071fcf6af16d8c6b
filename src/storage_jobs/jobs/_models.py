"""Job payloads: what producers enqueue, validated on construction."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ._key_rules import BucketName, ObjectKey
from ._write_options import PreserveOption, WriteOptions

__all__ = ["Checksum", "CopyJob", "DeleteJob", "JobModel", "UploadJob"]

Checksum = Literal["crc32c", "sha256"]
"""A whole-object checksum: S3's additional checksum where the server keeps one, and always
the worker's own hash in ``sj-crc32c`` / ``sj-sha256`` metadata (hex)."""

_MAX_METADATA_BYTES = 2048  # S3's limit on user metadata, keys and values together


class JobModel(BaseModel):
    """Base of every job payload: strict, immutable, JSON with base64 bytes."""

    # cache_strings: pydantic-core caches every JSON string value up to 64 characters (16,384,
    # about 1 MiB), so a worker's memory crept up with each new key name; field names repeat.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        ser_json_bytes="base64",
        val_json_bytes="base64",
        cache_strings="keys",
    )


class UploadJob(JobModel, WriteOptions):
    """Upload inline bytes or a local file (under the configured upload roots) to one key.

    The ``WriteOptions`` (storage class, encryption, tags, headers, ACL) are required: a
    destination that refuses one fails the upload.
    """

    kind: Literal["upload"] = "upload"
    bucket: BucketName
    key: ObjectKey
    data: bytes | None = None
    path: str | None = None
    content_type: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] | None = None
    checksum: Checksum | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _data_is_bytes(cls, value: object, info: ValidationInfo) -> object:
        # In JSON, bytes travel as base64 text; in Python a str would be base64-decoded into
        # different bytes without a word, so it is refused.
        if isinstance(value, str) and info.mode == "python":
            raise ValueError("data must be bytes; encode text first (e.g. text.encode())")
        return value

    @field_validator("path")
    @classmethod
    def _path_is_plain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            raise ValueError("path must not contain NUL")
        path = PurePosixPath(value)
        if not path.is_absolute():
            raise ValueError("path must be absolute")
        if ".." in path.parts:
            raise ValueError("path must not contain '..'")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_fits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        size = sum(len(k.encode()) + len(v.encode()) for k, v in value.items())
        if size > _MAX_METADATA_BYTES:
            raise ValueError(f"metadata must be at most {_MAX_METADATA_BYTES} bytes, got {size}")
        for name in value:
            if not name.isascii() or not name or any(c in name for c in " :\r\n"):
                raise ValueError(f"metadata name {name!r} must be non-empty ASCII without ' :'")
        return value

    @model_validator(mode="after")
    def _data_xor_path(self) -> Self:
        if (self.data is None) == (self.path is None):
            raise ValueError("give exactly one of data or path")
        return self


class CopyJob(JobModel, WriteOptions, PreserveOption):
    """Copy one object server-side; into the same bucket unless ``dst_bucket`` is given.

    The copy keeps what its source carries (``preserve``), with the ``WriteOptions`` given
    replacing the source's; a kept attribute the destination refuses is left out and listed
    in the result's ``lost``.
    """

    kind: Literal["copy"] = "copy"
    src_bucket: BucketName
    src_key: ObjectKey
    dst_key: ObjectKey
    dst_bucket: BucketName | None = None
    skip_if_identical: bool = False
    checksum: Checksum | None = None

    @model_validator(mode="after")
    def _not_onto_itself(self) -> Self:
        if (self.dst_bucket or self.src_bucket) == self.src_bucket and self.dst_key == self.src_key:
            raise ValueError("dst_key: copying an object onto itself changes nothing")
        return self


class DeleteJob(JobModel):
    """Delete any number of keys from one bucket, retrying per-key failures worth retrying."""

    kind: Literal["delete"] = "delete"
    bucket: BucketName
    keys: list[ObjectKey] = Field(min_length=1)
