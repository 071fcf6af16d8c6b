"""The JSON API's answers about migrations and prefix deletes: one's progress, a page of them."""

from __future__ import annotations

from pydantic import Field

from ._answer_base import Answer, Unreadable

__all__ = ["PrefixJobPage", "PrefixJobProgress"]


class PrefixJobProgress(Answer):
    """Where a migration or prefix delete stands, with its rate and ETA.

    Attributes:
        fraction: Objects with an outcome / objects listed (None before anything is listed).
        rate: Objects per second since it started.
        byte_rate: Bytes copied per second since it started.
        eta_seconds: Seconds left at that rate, once the listing is complete.
        report: ``bucket/key`` of the completion report, once written.
        status: What its coordinator last said: ``listing``, ``running``, ``paused``,
            ``done``, ``cancelled``...
        pause_requested: Its pause flag is set (the status says ``paused`` once the
            coordinator has seen it; batches running then stop at their next object).
        cancel_requested: It has been cancelled (the status says ``cancelled`` once every
            batch has stopped and the report is written).
        outcomes: The counts this kind of job reports beside done/skipped/failed, by name
            (``filtered``, ``rejected``, ``verified``, ``mismatch``, ``extraneous_deleted``,
            ``moved``, ``restoring`` (archived sources waiting on restores); a verification's
            ``missing``, ``extra`` and ``different``), in display order.
    """

    migration_id: str
    kind: str
    status: str
    dry_run: bool
    listed: int
    done: int
    skipped: int
    failed: int
    bytes: int
    listing_done: bool
    fraction: float | None
    rate: float | None
    byte_rate: float | None
    eta_seconds: float | None
    started_at: float | None
    finished_at: float | None
    report: str | None
    pause_requested: bool = False
    cancel_requested: bool = False
    outcomes: dict[str, int] = Field(default_factory=dict)


class PrefixJobPage(Answer):
    """One page of migrations and prefix deletes, newest first."""

    offset: int
    limit: int
    total: int
    rows: list[PrefixJobProgress]
    unreadable: list[Unreadable] = []
    """Listed ids whose data could not be read, with why (shown as rows of their own)."""
