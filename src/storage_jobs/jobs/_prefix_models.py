"""Prefix jobs: migrations and prefix deletes, and the batch jobs they fan out into."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._key_rules import BucketName, KeyPrefix, ObjectKey
from ._models import JobModel

__all__ = [
    "DeletePrefixBatchJob",
    "DeletePrefixJob",
    "MigrateBatchJob",
    "MigrateJob",
    "ObjectRef",
    "ReportMode",
]

ReportMode = Literal["failures", "all"]
"""What the completion report lists: failed keys only, or every key with its status."""


class MigrateJob(JobModel):
    """Copy every object under a prefix to another bucket/prefix, resumably, reported per key.

    Attributes:
        src_endpoint: Name of a source profile from settings (``STORAGE_JOBS_SOURCE_PROFILES``)
            for a different endpoint or credentials; None means the worker's own S3.
        skip_if_identical: Leave a destination with the same size and checksum alone.
        batch_size: Keys per listing page and per batch job (at most 1,000).
        report: What the completion report lists.
    """

    kind: Literal["migrate"] = "migrate"
    src_bucket: BucketName
    src_prefix: KeyPrefix = ""
    dst_bucket: BucketName
    dst_prefix: KeyPrefix = ""
    src_endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    dry_run: bool = False
    skip_if_identical: bool = True
    batch_size: int = Field(default=1000, ge=1, le=1000)
    report: ReportMode = "failures"

    @model_validator(mode="after")
    def _not_onto_itself(self) -> Self:
        same_place = self.src_endpoint is None and self.src_bucket == self.dst_bucket
        if same_place and (
            self.dst_prefix.startswith(self.src_prefix)
            or self.src_prefix.startswith(self.dst_prefix)
        ):
            raise ValueError(
                "dst_prefix: source and destination prefixes overlap in one bucket; the "
                "migration would list its own copies"
            )
        return self


class DeletePrefixJob(JobModel):
    """Delete everything under a prefix, with the per-key retries of DeleteJob."""

    kind: Literal["delete_prefix"] = "delete_prefix"
    bucket: BucketName
    prefix: KeyPrefix = Field(min_length=1)
    dry_run: bool = False
    batch_size: int = Field(default=1000, ge=1, le=1000)
    report: ReportMode = "failures"


class ObjectRef(BaseModel):
    """One listed object, as a batch job gets it (no HEAD needed to know its size and ETag)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: ObjectKey
    size: int = Field(ge=0)
    etag: str = ""


class MigrateBatchJob(JobModel):
    """One page of a migration; enqueued by the MigrateJob that lists the source."""

    kind: Literal["migrate_batch"] = "migrate_batch"
    migration_id: str = Field(min_length=1, max_length=200)
    batch: int = Field(ge=1)
    spec: MigrateJob
    objects: list[ObjectRef] = Field(min_length=1, max_length=1000)
    dst_was_empty: bool = False


class DeletePrefixBatchJob(JobModel):
    """One page of a prefix delete; enqueued by the DeletePrefixJob that lists the prefix."""

    kind: Literal["delete_prefix_batch"] = "delete_prefix_batch"
    migration_id: str = Field(min_length=1, max_length=200)
    batch: int = Field(ge=1)
    spec: DeletePrefixJob
    keys: list[ObjectKey] = Field(min_length=1, max_length=1000)
