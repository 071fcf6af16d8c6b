"""A prefix job's progress as the dashboard shows it: rate, ETA and its operator flags."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..jobs import MigrationProgress
from ..queue import QueueKeys
from ._answers import PrefixJobProgress

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["OUTCOMES", "control_flags", "progress_row"]

OUTCOMES: dict[str, tuple[str, ...]] = {
    "migrate": (
        "filtered",
        "rejected",
        "verified",
        "mismatch",
        "extraneous_deleted",
        "moved",
        "restoring",
    ),
    "delete_prefix": ("filtered", "rejected"),
    "verify": ("missing", "extra", "different", "filtered"),
}
"""The counts each kind of prefix job shows beside done/skipped/failed."""


async def control_flags(redis: Redis, job_ids: list[str]) -> list[tuple[bool, bool]]:
    """Per prefix job, whether its pause flag and its cancel marker are set (one round trip)."""
    if not job_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(QueueKeys.job_paused(job_id))
            pipe.exists(QueueKeys.cancel(job_id))
        answers = await pipe.execute()
    return [(bool(answers[i]), bool(answers[i + 1])) for i in range(0, len(answers), 2)]


def progress_row(
    progress: MigrationProgress,
    now: float | None = None,
    *,
    flags: tuple[bool, bool] = (False, False),
) -> PrefixJobProgress:
    """A prefix job's progress with its rate since it started and the ETA at that rate.

    Args:
        progress: What its store holds.
        now: The time the rate is computed at (default: now).
        flags: ``(pause requested, cancel requested)``, from ``control_flags``.
    """
    now = time.time() if now is None else now
    processed = progress.processed
    end = progress.finished_at or now
    elapsed = end - progress.started_at if progress.started_at is not None else 0.0
    rate = processed / elapsed if elapsed > 0 else None
    byte_rate = progress.bytes / elapsed if elapsed > 0 else None
    fraction = min(1.0, processed / progress.listed) if progress.listed else None
    eta = None
    if progress.finished:
        eta = 0.0
    elif progress.listing_done and rate:
        eta = max(0.0, (progress.listed - processed) / rate)
    report = None
    if progress.report_bucket and progress.report_key:
        report = f"{progress.report_bucket}/{progress.report_key}"
    return PrefixJobProgress(
        migration_id=progress.migration_id,
        kind=progress.kind,
        status=progress.status,
        dry_run=progress.dry_run,
        listed=progress.listed,
        done=progress.done,
        skipped=progress.skipped,
        failed=progress.failed,
        bytes=progress.bytes,
        listing_done=progress.listing_done,
        fraction=fraction,
        rate=rate,
        byte_rate=byte_rate,
        eta_seconds=eta,
        started_at=progress.started_at,
        finished_at=progress.finished_at,
        report=report,
        pause_requested=flags[0] and not progress.finished,
        cancel_requested=flags[1],
        outcomes={name: getattr(progress, name) for name in OUTCOMES.get(progress.kind, ())},
    )
