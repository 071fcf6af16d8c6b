"""A prefix job's rate and ETA, and the chart, from fixed numbers."""

from __future__ import annotations

from storage_jobs.dashboard._chart import history_svg
from storage_jobs.dashboard._progress_rows import progress_row
from storage_jobs.jobs import MigrationProgress
from storage_jobs.queue import MinuteCounts


def test_rate_and_eta_once_the_listing_is_complete() -> None:
    progress = MigrationProgress(
        migration_id="m",
        kind="migrate",
        status="running",
        listed=1000,
        done=150,
        skipped=50,
        failed=0,
        bytes=4096,
        listing_done=True,
        started_at=100.0,
    )
    row = progress_row(progress, now=110.0)
    assert row.fraction == 0.2
    assert row.rate == 20.0 and row.byte_rate == 409.6
    assert row.eta_seconds == 40.0


def test_each_kind_shows_its_own_outcomes() -> None:
    counts = {"filtered": 3, "verified": 7, "mismatch": 1, "missing": 4, "extra": 5, "restoring": 2}
    rows = {
        kind: progress_row(MigrationProgress(migration_id="m", kind=kind, **counts), now=1.0)
        for kind in ("migrate", "delete_prefix", "verify")
    }
    assert rows["migrate"].outcomes == {
        "filtered": 3,
        "rejected": 0,
        "verified": 7,
        "mismatch": 1,
        "extraneous_deleted": 0,
        "moved": 0,
        "restoring": 2,
    }
    assert rows["delete_prefix"].outcomes == {"filtered": 3, "rejected": 0}
    assert rows["verify"].outcomes == {"missing": 4, "extra": 5, "different": 0, "filtered": 3}


def test_no_eta_while_listing_and_zero_when_done() -> None:
    listing = MigrationProgress(migration_id="m", listed=10, done=5, started_at=0.0)
    assert progress_row(listing, now=5.0).eta_seconds is None
    done = MigrationProgress(
        migration_id="m",
        status="done",
        listed=10,
        done=10,
        started_at=0.0,
        finished_at=5.0,
        listing_done=True,
        report_bucket="b",
        report_key="r.jsonl",
    )
    row = progress_row(done, now=500.0)
    assert row.eta_seconds == 0.0 and row.rate == 2.0 and row.report == "b/r.jsonl"


def test_chart_draws_one_bar_per_nonzero_count() -> None:
    svg = history_svg(
        [MinuteCounts(minute=0, success=3, failed=1, cancelled=2), MinuteCounts(minute=60)]
    )
    assert svg.count("<rect") == 1 + 3
    assert "3 succeeded" in svg and "1 failed" in svg and "2 cancelled" in svg
