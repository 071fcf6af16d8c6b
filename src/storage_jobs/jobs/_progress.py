"""Where a prefix job stands: the one shape its store writes and every reader reads."""

from __future__ import annotations

from pydantic import BaseModel

__all__ = ["MigrationProgress"]


class MigrationProgress(BaseModel):
    """Where a migration or prefix delete stands.

    Attributes:
        status: ``listing``, ``running``, ``paused``, ``done`` or ``cancelled``.
        listed: Objects listed so far.
        done: Objects copied (migrations) or deleted (prefix deletes).
        skipped: Objects left alone as identical.
        failed: Objects that failed for good.
        bytes: Bytes copied.
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
    pages: int = 0
    batches_done: int = 0
    listing_done: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    report_bucket: str | None = None
    report_key: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has written its report and finished (done or cancelled)."""
        return self.status in ("done", "cancelled")

    @property
    def processed(self) -> int:
        """Objects with an outcome so far."""
        return self.done + self.skipped + self.failed
