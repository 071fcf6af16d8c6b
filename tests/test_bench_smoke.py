"""The benchmark harness at smoke size: it runs end to end and writes complete results."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_redis import TestRedis

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ["uploads", "deletes", "enqueue", "large_upload", "pickup", "scaling", "migration"]


def _numeric(stats: dict[str, object]) -> bool:
    values = [stats["min"], stats["median"], stats["max"], *stats["runs"]]  # type: ignore[misc]
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


@pytest.mark.integration
@pytest.mark.timeout(1200)
def test_bench_smoke_writes_every_scenario(tmp_path: Path, redis_server: TestRedis) -> None:
    """`python -m bench --size smoke` writes results.json, the table and the chart."""
    # Database 12 of the session's Redis: the bench flushes it, and no test uses it.
    env = {**os.environ, "STORAGE_JOBS_BENCH_REDIS_URL": redis_server.url(12)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["size"] == "smoke"
    assert set(results["scenarios"]) == set(SCENARIOS)
    for name, scenario in results["scenarios"].items():
        # Every scenario runs: "skipped" (migration, without MigrateJob) fails here too.
        assert scenario["status"] == "ok", (name, scenario["status"])
        assert scenario["rows"], name
        for key, row in scenario["rows"].items():
            for column in ("ours", "baseline", "ratio", *row["extra"]):
                stats = row[column] if column in row else row["extra"][column]
                assert _numeric(stats), (name, key, column, stats)
            assert row["checks"], (name, key)
            assert all(isinstance(c["met"], bool) for c in row["checks"])
    readme = (tmp_path / "README.md").read_text()
    assert "<!-- bench-results:start -->" in readme
    assert "| scenario |" in readme
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
