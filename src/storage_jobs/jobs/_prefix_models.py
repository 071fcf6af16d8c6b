"""Prefix jobs: migrations and prefix deletes, and the batch jobs they fan out into."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._filters import FilterFields
from ._key_rules import BucketName, KeyPrefix, ObjectKey
from ._models import Checksum, JobModel
from ._write_options import MigrateWriteOptions

__all__ = [
    "DeletePrefixBatchJob",
    "DeletePrefixJob",
    "Manifest",
    "MigrateBatchJob",
    "MigrateJob",
    "ObjectRef",
    "ReportMode",
    "VerifyBatchJob",
    "VerifyJob",
]

# What a migration of every version cannot be combined with, and why (checked at enqueue).
_ALL_VERSIONS_REFUSES = (
    ("manifest", "a manifest names the versions to copy itself (a line's version id)"),
    ("src_endpoint", "versions are copied server-side, within one endpoint"),
    ("delete_extraneous", "in a versioned destination a sync would only add delete markers"),
    ("verify", "versions are copied server-side as listed; run a VerifyJob on the current ones"),
    ("checksum", "a copied version keeps the source version's bytes and checksums as they are"),
    ("delete_source", "deleting copied versions by id would make older ones current again"),
    ("restore_archived", "archived versions are not restored; restore them, then migrate"),
)

RestoreTier = Literal["Expedited", "Standard", "Bulk"]
"""S3 Glacier retrieval tiers, fastest (and dearest) first."""

# Seconds between checks of a restore, by tier: a fraction of its usual time (AWS: Expedited
# 1-5 min, Standard 3-5 h, Bulk 5-12 h; DEEP_ARCHIVE up to 48 h).
_RESTORE_CHECK_S: dict[str, float] = {"Expedited": 60, "Standard": 900, "Bulk": 1800}

ReportMode = Literal["failures", "all"]
"""What the completion report lists: failed keys only, or every key with its status."""


class Manifest(BaseModel):
    """Where a prefix job reads its keys from, instead of listing the source.

    Attributes:
        bucket: The manifest's bucket (on the source's endpoint).
        key: A CSV of ``bucket,key[,version_id]`` lines (keys URL-encoded, as S3 Batch
            Operations writes them), or an S3 Inventory ``manifest.json``.
        format: ``csv`` or ``s3-inventory``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: BucketName
    key: ObjectKey
    format: Literal["csv", "s3-inventory"] = "csv"


class MigrateJob(JobModel, FilterFields, MigrateWriteOptions):
    """Copy every object under a prefix to another bucket/prefix, resumably, reported per key.

    Attributes:
        src_endpoint: Name of a source profile from settings (``STORAGE_JOBS_SOURCE_PROFILES``)
            for a different endpoint or credentials; None means the worker's own S3.
        skip_if_identical: Leave a destination with the same size and checksum alone.
        batch_size: Keys per listing page and per batch job (at most 1,000).
        report: What the completion report lists.
        manifest: Read the keys from a manifest instead of listing ``src_prefix``.
        verify: Read every copy back and compare it with its source; a mismatch is a per-key
            failure (``mismatch``).
        delete_extraneous: After every copy succeeded, delete destination keys under
            ``dst_prefix`` that the (filtered) source lacks.
        max_delete: Delete none and fail when more than this many would go.
        max_failure_ratio: Stop the migration (cancel the rest, write the report, fail) once
            more than this share of its keys failed...
        min_tasks_before_threshold: ...counted from this many keys with an outcome on.
        all_versions: Copy every version of every key (oldest first, delete markers as
            deletes) into a versioned destination, same endpoint only.
        checksum: ``crc32c`` or ``sha256``: every copy carries the source's checksum in
            ``sj-crc32c`` / ``sj-sha256`` metadata (the source's own, else computed by the
            worker from its bytes) and, where the server keeps S3's additional checksums, as
            one (asked of CopyObject; sent with, and checked against, every uploaded part
            across endpoints). It is the strongest evidence for later skip checks and verify.
        delete_source: A move: each source object is deleted once its copy is proven (size and
            a server checksum or MD5 ETag, else read back) and it is still the object copied;
            a failed or mismatched copy keeps its source. On a versioned source bucket the
            delete writes a delete marker (every version stays). Reported ``moved``.
        restore_archived: Restore archived sources (``GLACIER``, ``DEEP_ARCHIVE``) first: one
            ``RestoreObject`` each, then the batch waits off the queue (deferred, no slot, no
            lease) and checks again every ``restore_check_s``; restored, they are copied.
            Without it an archived source is a per-key failure naming its class.
        restore_days: Days the restored copy stays readable.
        restore_tier: ``Expedited``, ``Standard`` or ``Bulk``.
        restore_check_s: Seconds between checks (None: by tier, 60 / 900 / 1,800).

    Every copy keeps what its source carries (``preserve``; ``dst_storage_class``, ``sse``,
    ``sse_kms_key_id`` and ``acl`` replace the source's): see ``MigrateWriteOptions``.
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
    manifest: Manifest | None = None
    verify: bool = False
    delete_extraneous: bool = False
    max_delete: int | None = Field(default=None, ge=0)
    max_failure_ratio: float | None = Field(default=None, gt=0, lt=1)
    min_tasks_before_threshold: int = Field(default=1000, ge=1)
    all_versions: bool = False
    checksum: Checksum | None = None
    delete_source: bool = False
    restore_archived: bool = False
    restore_days: int = Field(default=1, ge=1, le=365)
    restore_tier: RestoreTier = "Standard"
    restore_check_s: float | None = Field(default=None, ge=1, le=86400)

    def restore_check_every(self) -> float:
        """Seconds between checks of the restores a batch waits on."""
        return self.restore_check_s or _RESTORE_CHECK_S[self.restore_tier]

    def failure_threshold(self) -> tuple[float, int] | None:
        """``(max failure ratio, min tasks)`` when the failure threshold is on, else None."""
        if self.max_failure_ratio is None:
            return None
        return self.max_failure_ratio, self.min_tasks_before_threshold

    @model_validator(mode="after")
    def _sync_needs_a_listing(self) -> Self:
        if self.delete_extraneous and self.manifest is not None:
            raise ValueError(
                "delete_extraneous: a manifest names a subset of the source; extraneous keys "
                "are only defined against a listing"
            )
        if self.max_delete is not None and not self.delete_extraneous:
            raise ValueError("max_delete: only meaningful with delete_extraneous=True")
        if self.all_versions:
            for field, why in _ALL_VERSIONS_REFUSES:
                if getattr(self, field) not in (None, False):
                    raise ValueError(f"all_versions: not with {field}: {why}")
        return self

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


class DeletePrefixJob(JobModel, FilterFields):
    """Delete everything under a prefix, with the per-key retries of DeleteJob.

    The filters select what is deleted (globs apply to the key below ``prefix``).

    Attributes:
        manifest: Delete the keys a manifest names (those under ``prefix``) instead of listing.
        all_versions: Delete every version and delete marker under the prefix (a versioned
            bucket), not just the current objects.
    """

    kind: Literal["delete_prefix"] = "delete_prefix"
    bucket: BucketName
    prefix: KeyPrefix = Field(min_length=1)
    dry_run: bool = False
    batch_size: int = Field(default=1000, ge=1, le=1000)
    report: ReportMode = "failures"
    manifest: Manifest | None = None
    all_versions: bool = False

    @model_validator(mode="after")
    def _one_source_of_keys(self) -> Self:
        if self.all_versions and self.manifest is not None:
            raise ValueError(
                "all_versions: not with manifest: a manifest names the versions to delete "
                "itself (a line's version id)"
            )
        if (
            self.manifest is not None
            and self.manifest.format == "csv"
            and self.object_filter().needs_attributes
        ):
            raise ValueError(
                "min_size: a CSV manifest names no sizes, times or classes to filter deletes by"
            )
        return self


class VerifyJob(JobModel, FilterFields):
    """Compare a prefix with a copy of it, like ``rclone check``: missing, extra, different.

    Attributes:
        src_endpoint: Source profile of a source on another endpoint.
        checksum: ``crc32c`` or ``sha256`` compares that checksum of both sides: the one the
            server holds (S3 additional checksums) or, where it holds none, the bytes read and
            hashed (``sj-*`` metadata is not taken as proof). None compares sizes and the
            strongest stored evidence (checksums, single-part ETags, the recorded source
            ETag), reading both sides only where that evidence is missing.
        batch_size: Keys per listing page and per batch job.
        report: ``failures`` lists the keys that do not match; ``all`` every key.
    """

    kind: Literal["verify"] = "verify"
    src_bucket: BucketName
    src_prefix: KeyPrefix = ""
    dst_bucket: BucketName
    dst_prefix: KeyPrefix = ""
    src_endpoint: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    checksum: Checksum | None = None
    batch_size: int = Field(default=1000, ge=1, le=1000)
    report: ReportMode = "failures"


class ObjectRef(BaseModel):
    """One listed object, as a batch job gets it (no HEAD needed to know its size and ETag).

    A manifest line without a size leaves ``size`` None; the batch HEADs the source for it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: ObjectKey
    size: int | None = Field(default=None, ge=0)
    etag: str = ""
    last_modified: datetime | None = None
    storage_class: str | None = None
    version_id: str | None = None
    delete_marker: bool = False


class MigrateBatchJob(JobModel):
    """One page of a migration; enqueued by the MigrateJob that lists the source."""

    kind: Literal["migrate_batch"] = "migrate_batch"
    migration_id: str = Field(min_length=1, max_length=200)
    batch: int = Field(ge=1)
    spec: MigrateJob
    # Up to 2,000: a versions page carries a key's history whole, across listing pages.
    objects: list[ObjectRef] = Field(max_length=2000)
    dst_was_empty: bool = False
    rejected: list[str] = Field(default_factory=list, max_length=10_000)
    """Report lines of manifest lines that named no usable key (recorded with the batch)."""


class DeletePrefixBatchJob(JobModel):
    """One page of a prefix delete; enqueued by the DeletePrefixJob that lists the prefix."""

    kind: Literal["delete_prefix_batch"] = "delete_prefix_batch"
    migration_id: str = Field(min_length=1, max_length=200)
    batch: int = Field(ge=1)
    spec: DeletePrefixJob
    keys: list[ObjectKey] = Field(max_length=2000)
    version_ids: list[str] = Field(default_factory=list, max_length=2000)
    """The version of each key to delete (same order): every listed one with ``all_versions``;
    a manifest's ids ("" for a line without one: the current object) when any line names one."""
    filtered: list[ObjectKey] = Field(default_factory=list, max_length=2000)
    """Keys of the page the filters left out (counted, and reported with ``report="all"``)."""
    rejected: list[str] = Field(default_factory=list, max_length=10_000)
    """Report lines of manifest lines that named no usable key (recorded with the batch)."""


class VerifyBatchJob(JobModel):
    """One page of a verification; enqueued by the VerifyJob that lists the source."""

    kind: Literal["verify_batch"] = "verify_batch"
    migration_id: str = Field(min_length=1, max_length=200)
    batch: int = Field(ge=1)
    spec: VerifyJob
    objects: list[ObjectRef] = Field(max_length=1000)
