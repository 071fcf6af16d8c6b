"""Results of prefix jobs and their batches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._results import ResultModel

__all__ = ["BatchResult", "DeletePrefixResult", "MigrateResult", "VerifyResult"]


class MigrateResult(ResultModel):
    """What a migration did, with where its completion report is.

    Attributes:
        listed: Objects found under the source prefix.
        copied: Objects copied (``would copy`` in a dry run).
        skipped: Objects left alone because the destination was identical.
        failed: Objects that could not be copied (each is in the report).
        bytes: Bytes copied.
        filtered: Objects the filters left out.
        rejected: Manifest lines that named no usable key (each is in the report).
        verified: Copies read back and found identical to their source (``verify=True``).
        mismatch: Copies that differ from their source when read back (counted in ``failed``).
        moved: Sources a move deleted once their copies were proven (counted in ``copied``).
        extraneous_deleted: Destination keys a sync deleted (would delete, in a dry run).
        attributes_lost: Copies that could not keep some attribute of their source (each is
            in the report, with what was lost and why).
        report_bucket: Bucket of the JSON Lines completion report.
        report_key: Key of the report.
    """

    kind: Literal["migrate"] = "migrate"
    migration_id: str
    dry_run: bool
    listed: int
    copied: int
    skipped: int
    failed: int
    bytes: int
    filtered: int = 0
    rejected: int = 0
    verified: int = 0
    mismatch: int = 0
    moved: int = 0
    extraneous_deleted: int = 0
    attributes_lost: int = 0
    report_bucket: str | None = None
    report_key: str | None = None


class DeletePrefixResult(ResultModel):
    """What a prefix delete did, with where its completion report is.

    Attributes:
        listed: Objects listed (or manifest lines naming a key).
        deleted: Objects deleted (``would delete`` in a dry run).
        failed: Objects that could not be deleted (each is in the report).
        rejected: Manifest lines that named no usable key (each is in the report).
        filtered: Objects the filters left out.
    """

    kind: Literal["delete_prefix"] = "delete_prefix"
    migration_id: str
    dry_run: bool
    listed: int
    deleted: int
    failed: int
    rejected: int = 0
    filtered: int = 0
    report_bucket: str | None = None
    report_key: str | None = None


class VerifyResult(ResultModel):
    """What a verification found, with where its report of the differences is.

    Attributes:
        listed: Source objects listed.
        matched: Source objects whose destination holds the same bytes.
        missing: Source objects absent from the destination.
        extra: Destination objects absent from the source.
        different: Objects whose destination differs.
        failed: Objects that could not be compared (errors).
        filtered: Objects the filters left out.
    """

    kind: Literal["verify"] = "verify"
    migration_id: str
    listed: int
    matched: int
    missing: int
    extra: int
    different: int
    failed: int
    filtered: int = 0
    report_bucket: str | None = None
    report_key: str | None = None

    @property
    def all_match(self) -> bool:
        """Whether source and destination agree on every (selected) key."""
        return not (self.missing or self.extra or self.different or self.failed)


class BatchResult(ResultModel):
    """What one batch of a prefix job did (its keys are counted in the parent's progress).

    Attributes:
        of: The parent's kind, ``migrate``, ``delete_prefix`` or ``verify``.
        done: Keys copied, deleted or found matching by this run of the batch.
        bytes: Bytes copied by this run of the batch.
        filtered: Keys the filters left out.
        verified: Copies read back and found identical.
        mismatch: Copies (or, verifying, keys) found different.
        attributes_lost: Copies that could not keep some attribute of their source.
        lost_attributes: How often each attribute was lost, by name.
        moved: Sources a move deleted.
    """

    kind: Literal["batch"] = "batch"
    of: Literal["migrate", "delete_prefix", "verify"] = "migrate"
    migration_id: str
    batch: int
    done: int
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    filtered: int = 0
    verified: int = 0
    mismatch: int = 0
    attributes_lost: int = 0
    lost_attributes: dict[str, int] = Field(default_factory=dict)
    moved: int = 0
