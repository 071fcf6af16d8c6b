"""The dashboard benchmark at a tiny size: it fills, serves, times every path and writes JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_bench_dashboard_times_every_path(tmp_path: Path) -> None:
    out = tmp_path / "dashboard-results.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.dashboard",
            "--jobs",
            "2000",
            "--dead",
            "200",
            "--requests",
            "2",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["jobs"] == 2000 and report["dead_letters"] == 200
    # More ready jobs than the overview checks for a lease: the 16 running ones, scored at
    # their lease's deadline, are still told apart from the deferred ones.
    assert report["overview_counts"] == {"ready": 1784, "in_progress": 16, "deferred": 200}
    assert len(report["paths"]) == 13
    for row in report["paths"].values():
        assert 0 < row["p50_ms"] <= row["max_ms"]
