"""``storage-jobs dev``: the newcomer's first command, run as a user would, stopped every way."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storage_jobs.cli._dev import StopSignals, delete_details, retry_rounds
from storage_jobs.jobs import DeleteFailure, DeleteResult
from tests.procs import (
    cmdline,
    descendants,
    kill_all,
    listening_ports,
    port_is_free,
    remove_weed_litter,
    wait_gone,
)
from tests.workers import cli_path

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

# Starts a program with SIGINT, SIGTERM and SIGHUP at their defaults, whatever this test run
# inherited (nohup, a background job), but for those named in argv[1], which it ignores.
EXEC_WITH_SIGNALS = """\
import os, signal, sys
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_DFL)
for name in filter(None, sys.argv[1].split(",")):
    signal.signal(signal.Signals[name], signal.SIG_IGN)
os.execv(sys.argv[2], sys.argv[2:])
"""


@dataclass
class DevRun:
    """One ``storage-jobs dev`` subprocess, and what it started (recorded while it ran)."""

    proc: subprocess.Popen[bytes]
    out: Path
    stack: set[int] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)
    workdir: Path | None = None
    weed_argv: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Waits until ``text`` is printed, then records the stack's processes and ports."""
        deadline = time.monotonic() + timeout
        while text not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, f"no {text!r} after {timeout} s:\n{self.text()}"
            time.sleep(0.1)
        self.stack = descendants(self.proc.pid)
        commands = " | ".join(cmdline(pid) for pid in self.stack)
        for part in ("redis-server", "weed", "storage_jobs worker"):
            assert part in commands
        self.weed_argv = next(c for c in map(cmdline, self.stack) if "weed" in c).split()
        # The fault proxy is a thread of the dev process itself.
        self.ports = listening_ports({self.proc.pid, *self.stack})
        found = re.search(r"worker log (\S+)/worker\.log", self.text())
        assert found is not None
        self.workdir = Path(found.group(1))
        assert self.workdir.is_dir()

    def assert_nothing_left(self, timeout: float = 5) -> float:
        """No process of the stack within ``timeout`` s and every port free; returns seconds."""
        took, left = wait_gone(self.stack, timeout)
        assert left == [], f"left running: {[cmdline(pid) for pid in left]}"
        busy = [port for port in sorted(self.ports) if not port_is_free(port)]
        assert busy == [], f"ports still taken: {busy}"
        return took


StartDev = Callable[..., DevRun]


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


@pytest.fixture
def start_dev(tmp_path: Path) -> Iterator[StartDev]:
    """Starts ``storage-jobs dev`` subprocesses; kills and removes whatever a test left."""
    runs: list[DevRun] = []

    def start(ignore: str = "", *, own_session: bool = False) -> DevRun:
        """Starts one, ignoring the signals named in ``ignore`` (comma-separated)."""
        out = tmp_path / f"dev{len(runs)}.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-c", EXEC_WITH_SIGNALS, ignore, cli_path(), "dev"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "200"},
                start_new_session=own_session,
            )
        runs.append(DevRun(proc, out))
        return runs[-1]

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(10)
        kill_all(run.stack)
        if run.workdir is not None:
            shutil.rmtree(run.workdir, ignore_errors=True)
        remove_weed_litter(run.weed_argv)


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


@pytest.mark.integration
def test_dev_runs_the_demo_and_ctrl_c_leaves_nothing_behind(start_dev: StartDev) -> None:
    """The demo prints every job kind; SIGINT stops Redis, SeaweedFS, proxy and worker."""
    run = start_dev()
    run.wait_for("Press Ctrl-C")
    text = run.text()
    dashboard_is_up(text)
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(60) == 0, run.text()
    for row in ("upload bytes", "upload 20 MiB file", "copy to archive", "bulk delete"):
        assert row in text
    assert "skipped=True" in text
    # The three flaky keys fail once and go again alone in round 2; the denied one is final.
    assert "1,199 deleted in 2 rounds; retried alone: 3 keys in round 2;" in text
    assert "tmp/0042.txt AccessDenied" in text
    assert "StorageObjectNotFoundError" in text
    run.assert_nothing_left(timeout=1)
    assert run.workdir is not None
    assert not run.workdir.exists()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sig", "when", "ignore", "to_group"),
    [
        pytest.param(signal.SIGTERM, "Press Ctrl-C", "", False, id="SIGTERM-while-waiting"),
        pytest.param(signal.SIGHUP, "worker log", "", False, id="SIGHUP-mid-demo"),
        # What a supervisor does once `uv run` died: SIGINT to the group, with SIGINT
        # inherited as ignored (as a background job of a non-interactive shell has it).
        pytest.param(signal.SIGINT, "worker log", "SIGINT", True, id="SIGINT-to-group-ignored"),
    ],
)
def test_a_stop_signal_stops_the_stack_and_exits_0(
    start_dev: StartDev, sig: signal.Signals, when: str, ignore: str, to_group: bool
) -> None:
    """The stack is stopped, the exit code is 0, the ports are free and the workdir is gone."""
    run = start_dev(ignore, own_session=to_group)
    run.wait_for(when)
    started = time.monotonic()
    if to_group:
        os.killpg(run.proc.pid, sig)
    else:
        run.proc.send_signal(sig)
    assert run.proc.wait(60) == 0, run.text()
    exited = time.monotonic() - started
    run.assert_nothing_left(timeout=1)  # the stop itself waited for them
    print(f"{sig.name}: exit 0 after {exited:.2f} s, stack gone")
    assert f"{sig.name}: stopping" in run.text()
    assert run.workdir is not None
    assert not run.workdir.exists()


@pytest.mark.integration
def test_a_sigkilled_dev_takes_its_stack_with_it(start_dev: StartDev) -> None:
    """SIGKILL runs no code in ``dev``; its servers and worker still die, ports freed."""
    run = start_dev()
    run.wait_for("worker log")
    run.proc.kill()
    assert run.proc.wait(10) == -signal.SIGKILL
    took = run.assert_nothing_left(timeout=5)
    print(f"SIGKILL: stack gone {took:.2f} s after")


def test_a_signal_cancels_the_demo_even_if_sync_code_swallows_it() -> None:
    """In the event loop a signal cancels the task: sync code catching it cannot stop that."""
    stop = StopSignals()
    progress: list[str] = []

    async def demo() -> None:
        try:
            for _ in range(50):
                try:
                    time.sleep(0.1)  # noqa: ASYNC251 - sync code in the task, like the demo's boto3
                except BaseException:
                    progress.append("swallowed")  # as some library code does
                await asyncio.sleep(0)
            progress.append("finished")
        except asyncio.CancelledError:
            progress.append("cancelled")
            raise

    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            stop.run(demo())
    finally:
        timer.cancel()
        stop.restore()
    assert stop.received == signal.SIGTERM
    assert progress == ["cancelled"]
    assert time.monotonic() - started < 2
