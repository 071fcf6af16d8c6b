"""Where a prefix job stands: the one shape its store writes and every reader reads."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["MigrationProgress"]


class MigrationProgress(BaseModel):
    """Where a migration or prefix delete stands.

    Attributes:
        status: ``listing``, ``running``, ``paused``, ``stopping``, ``done``, ``cancelled``
            or ``failed_threshold``.
        listed: Objects listed so far.
        done: Objects copied (migrations) or deleted (prefix deletes).
        skipped: Objects left alone as identical.
        failed: Objects that failed for good.
        bytes: Bytes copied.
        filtered: Objects the job's filters left out.
        rejected: Manifest lines that named no usable key (each is in the report).
        verified: Copies read back and found identical to their source.
        mismatch: Copies that differ from their source when read back (also ``failed``).
        moved: Objects a move copied, proved and deleted at the source (also ``done``).
        restoring: Archived sources waiting on their restores now (no outcome yet).
        extraneous_deleted: Destination keys a sync deleted (or would, in a dry run).
        attributes_lost: Copies that could not keep some attribute of their source.
        missing: Verification: source keys absent from the destination.
        extra: Verification: destination keys absent from the source.
        different: Verification: keys whose contents differ.
        stopped: Why the job stopped early (``failure_threshold``), if it did.
        pages: Listing pages (= batch jobs) so far.
        batches_done: Batch jobs finished.
        listing_done: Whether the listing is complete.
    """

    migration_id: str
    kind: str = ""
    status: str = "unknown"
    dry_run: bool = False
    listed: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    filtered: int = 0
    rejected: int = 0
    verified: int = 0
    mismatch: int = 0
    moved: int = 0
    restoring: int = 0
    extraneous_deleted: int = 0
    attributes_lost: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    stopped: str | None = None
    pages: int = 0
    batches_done: int = 0
    listing_done: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    report_bucket: str | None = None
    report_key: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has written its report and finished (done, cancelled or stopped)."""
        return self.status in ("done", "cancelled", "failed_threshold", "stopped")

    @property
    def processed(self) -> int:
        """Objects with an outcome so far."""
        return (
            self.done + self.skipped + self.failed + self.filtered + self.missing + self.different
        )
