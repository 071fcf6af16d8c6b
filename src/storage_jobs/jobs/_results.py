"""Job results: what a finished job leaves behind, typed like its payload."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CopyResult",
    "DeleteFailure",
    "DeleteResult",
    "LostAttribute",
    "ResultModel",
    "UploadResult",
]


class ResultModel(BaseModel):
    """Base of every job result."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UploadResult(ResultModel):
    """What an UploadJob stored."""

    kind: Literal["upload"] = "upload"
    bucket: str
    key: str
    size: int
    etag: str


class LostAttribute(ResultModel):
    """An attribute of the source a copy could not keep, and why."""

    attribute: str
    reason: str


class CopyResult(ResultModel):
    """What a CopyJob did; ``skipped`` when an identical destination was left alone.

    Attributes:
        lost: The source's attributes the destination could not keep (each also logged).
    """

    kind: Literal["copy"] = "copy"
    src_bucket: str
    src_key: str
    dst_bucket: str
    dst_key: str
    skipped: bool = False
    lost: list[LostAttribute] = Field(default_factory=list)


class DeleteFailure(ResultModel):
    """One key a delete could not remove, with the last S3 error code for it."""

    key: str
    code: str
    message: str = ""


class DeleteResult(ResultModel):
    """What a DeleteJob did.

    Attributes:
        deleted_count: Keys deleted (or already absent: S3 deletes are idempotent).
        failed: Every key that could not be deleted, with its code.
        attempts: DeleteObjects rounds used (1 when nothing needed a retry).
    """

    kind: Literal["delete"] = "delete"
    bucket: str
    deleted_count: int
    failed: list[DeleteFailure] = Field(default_factory=list)
    attempts: int = 1
