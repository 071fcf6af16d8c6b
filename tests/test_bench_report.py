"""bench/report.py: a table from one run has one time; a merged one says per row when it ran."""

from __future__ import annotations

from typing import Any

from bench.model import Check, Row, Sample, summarize_row
from bench.report import markdown_table, merge_results

ROW = Row("r", "a row", "jobs/s", "ours", "theirs", (Check("ratio", ">=", 1.0, ">= 1x"),))


def _results(stamp: str, scenario: str, *, enqueues: int = 100) -> dict[str, Any]:
    return {
        "generated_at": stamp,
        "size": "full",
        "runs": 1,
        "duration_s": 10.0,
        "machine": {"cpus": 2},
        "sizes": {"name": "full", "enqueues": enqueues, "uploads": 5},
        "scenarios": {
            scenario: {
                "status": "ok",
                "duration_s": 10.0,
                "rows": {"r": summarize_row(ROW, [Sample(2.0, 1.0)])},
            }
        },
    }


def test_one_run_has_one_generated_time_and_no_ran_column() -> None:
    """Every row of a single run shares the header's time."""
    table = markdown_table(_results("2026-01-01T00:00:00+00:00", "a"))
    assert "generated 2026-01-01T00:00:00+00:00 in 10 s" in table
    assert "| ran |" not in table


def test_merged_results_say_per_row_when_and_at_what_size_they_ran() -> None:
    """A scenario re-run later (and smaller) is stamped with its own time and sizes."""
    old = _results("2026-01-01T00:00:00+00:00", "a")
    new = _results("2026-02-02T12:30:00+00:00", "b", enqueues=20)
    table = markdown_table(merge_results(old, new))
    assert "generated" not in table
    assert "scenarios ran at different times" in table
    lines = [line for line in table.splitlines() if line.startswith("| a row")]
    assert len(lines) == 2
    assert lines[0].endswith("| 2026-01-01 00:00:00 UTC |")
    assert lines[1].endswith("| 2026-02-02 12:30:00 UTC<br><sub>enqueues=20</sub> |")
