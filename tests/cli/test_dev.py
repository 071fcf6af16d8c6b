"""``storage-jobs dev``: the newcomer's first command, run as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from storage_jobs.cli._dev import delete_details, retry_rounds
from storage_jobs.jobs import DeleteFailure, DeleteResult
from tests.workers import cli_path


def descendants(pid: int) -> set[int]:
    """Every live process whose parent chain leads to ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_delete_row_comes_from_the_result_and_the_retry_rounds() -> None:
    """Rounds, retried keys and failures in the row are the job's, for any outcome."""
    three_rounds = DeleteResult(
        bucket="demo",
        deleted_count=7,
        attempts=3,
        failed=[
            DeleteFailure(key="a", code="AccessDenied", message=""),
            DeleteFailure(key="b", code="InternalError", message=""),
        ],
    )
    assert delete_details(three_rounds, [(2, 5), (3, 1)]) == (
        "7 deleted in 3 rounds; retried alone: 5 keys in round 2, 1 key in round 3; "
        "failed: a AccessDenied, b InternalError"
    )
    clean = DeleteResult(bucket="demo", deleted_count=1200, attempts=1)
    assert delete_details(clean, []) == (
        "1,200 deleted in 1 round; retried alone: none; failed: none"
    )


def test_retry_rounds_are_read_from_the_workers_events_for_the_bucket(tmp_path: Path) -> None:
    """Only delete.retry_round events of the demo bucket count; other lines are skipped."""
    log = tmp_path / "worker.log"
    events = [
        {"event": "delete.retry_round", "bucket": "demo", "round": 2, "keys": 3},
        {"event": "delete.retry_round", "bucket": "elsewhere", "round": 2, "keys": 9},
        {"event": "delete.partial_failure", "bucket": "demo", "failed": 4},
        {"event": "delete.retry_round", "bucket": "demo", "round": 3, "keys": 1},
    ]
    lines = [json.dumps(e) for e in events]
    log.write_text("\n".join([lines[0], "a warning that is not JSON", *lines[1:], "[1]"]) + "\n")
    assert retry_rounds(log, "demo") == [(2, 3), (3, 1)]


@pytest.mark.integration
def test_dev_runs_the_demo_and_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    """The demo prints every job kind; SIGINT stops Redis, SeaweedFS, proxy and worker."""
    out = tmp_path / "dev.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [cli_path(), "dev"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:
            deadline = time.monotonic() + 120
            while "Press Ctrl-C" not in out.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, out.read_text()
                time.sleep(0.2)
            text = out.read_text()
            children = descendants(proc.pid)
            assert len(children) >= 3  # redis-server, weed, worker
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) in (0, 1, 130)
        finally:
            if proc.poll() is None:
                proc.kill()
    for row in ("upload bytes", "upload 20 MiB file", "copy to archive", "bulk delete"):
        assert row in text
    assert "skipped=True" in text
    # The three flaky keys fail once and go again alone in round 2; the denied one is final.
    assert "1,199 deleted in 2 rounds; retried alone: 3 keys in round 2;" in text
    assert "tmp/0042.txt AccessDenied" in text
    assert "StorageObjectNotFoundError" in text
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
