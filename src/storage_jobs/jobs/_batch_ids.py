"""Ids of a prefix job's batch jobs, and the way back from a batch to its prefix job."""

from __future__ import annotations

__all__ = ["batch_job_id", "parent_job_id"]

_BATCH = ":batch:"


def batch_job_id(migration_id: str, batch: int) -> str:
    """The job id of one batch of a prefix job."""
    return f"{migration_id}{_BATCH}{batch}"


def parent_job_id(job_id: str) -> str | None:
    """The prefix job a batch job belongs to, or None for any other job.

    Operator control of a prefix job (cancel, pause) reaches its batches through this.
    """
    parent, sep, number = job_id.rpartition(_BATCH)
    return parent if sep and parent and number.isdigit() else None
