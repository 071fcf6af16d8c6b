"""``storage-jobs dev``: the newcomer's first command, run as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.workers import cli_path

pytestmark = pytest.mark.integration


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


def dashboard_is_up(text: str) -> None:
    """The printed dashboard address shows the demo's dead letter and its migration."""
    found = re.search(r"dashboard (http://127\.0\.0\.1:\d+/)", text)
    assert found, text
    base = found.group(1)
    overview = json.loads(urllib.request.urlopen(base + "api/overview", timeout=10).read())
    assert overview["queues"][0]["dead_letters"] >= 1 and overview["actions_enabled"]
    migrations = json.loads(urllib.request.urlopen(base + "api/migrations", timeout=10).read())
    assert [(m["kind"], m["status"], m["done"]) for m in migrations["rows"]] == [
        ("migrate", "done", 1200)
    ]


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
            dashboard_is_up(text)
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
    assert "1,199 deleted in 2 rounds" in text
    assert "tmp/0042.txt AccessDenied" in text
    assert "StorageObjectNotFoundError" in text
    time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
