"""Results of prefix jobs and their batches."""

from __future__ import annotations

from typing import Literal

from ._results import ResultModel

__all__ = ["BatchResult", "DeletePrefixResult", "MigrateResult"]


class MigrateResult(ResultModel):
    """What a migration did, with where its completion report is.

    Attributes:
        listed: Objects found under the source prefix.
        copied: Objects copied (``would copy`` in a dry run).
        skipped: Objects left alone because the destination was identical.
        failed: Objects that could not be copied (each is in the report).
        bytes: Bytes copied.
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
    report_bucket: str | None = None
    report_key: str | None = None


class DeletePrefixResult(ResultModel):
    """What a prefix delete did, with where its completion report is."""

    kind: Literal["delete_prefix"] = "delete_prefix"
    migration_id: str
    dry_run: bool
    listed: int
    deleted: int
    failed: int
    report_bucket: str | None = None
    report_key: str | None = None


class BatchResult(ResultModel):
    """What one batch of a prefix job did (its keys are counted in the parent's progress).

    Attributes:
        of: The parent's kind, ``migrate`` or ``delete_prefix``.
        done: Keys copied or deleted by this run of the batch.
        bytes: Bytes copied by this run of the batch.
    """

    kind: Literal["batch"] = "batch"
    of: Literal["migrate", "delete_prefix"] = "migrate"
    migration_id: str
    batch: int
    done: int
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
