"""Children of the devstack die with the process that started them, and stop with their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from storage_jobs.devstack.processes import process_group_members, spawn, stop_process_group
from tests.procs import (
    alive,
    cmdline,
    kill_all,
    listening_ports,
    port_is_free,
    remove_weed_litter,
    wait_gone,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

# A parent that starts one child from a thread that then ends and one from its main thread,
# prints both pids, and waits to be killed.
PARENT = """\
import threading, time
from storage_jobs.devstack.processes import spawn

started = []


def start_and_linger():
    # Linger as a thread that waits for a server to be ready does: the child has set its
    # parent-death signal by the time this thread ends.
    started.append(spawn(["sleep", "300"]))
    time.sleep(0.5)


thread = threading.Thread(target=start_and_linger)
thread.start()
thread.join()
started.append(spawn(["sleep", "300"]))
print(" ".join(str(p.pid) for p in started), flush=True)
time.sleep(300)
"""


def test_children_die_with_a_sigkilled_parent_whichever_thread_started_them() -> None:
    """A child outlives the thread that started it, and dies when its parent is SIGKILLed."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, start_new_session=True
    )
    children: list[int] = []
    try:
        assert parent.stdout is not None
        children = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2
        time.sleep(0.5)  # a child forked by the ended thread would be dead by now
        assert [alive(pid) for pid in children] == [True, True]
        assert all(cmdline(pid) == "sleep 300" for pid in children)  # the wrapper exec'd
        parent.kill()
        parent.wait(10)
        took, left = wait_gone(children, timeout=5)
        assert left == [], f"{left} outlived their SIGKILLed parent"
        assert took < 2
    finally:
        parent.kill()
        parent.wait(10)
        kill_all(children)


def test_stop_process_group_stops_and_reaps_what_the_child_started() -> None:
    """A grandchild that ignores SIGTERM is killed and gone (not a zombie) when stop returns."""
    # The shell exits on SIGTERM; its background child ignores it and would be orphaned.
    proc = spawn(
        ["sh", "-c", "(trap '' TERM; exec sleep 300) & echo $!; wait"], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    try:
        assert alive(grandchild)
        assert os.getpgid(grandchild) == proc.pid  # in the child's own group
        stop_process_group(proc, timeout=5)
        assert proc.returncode is not None
        assert not Path(f"/proc/{grandchild}").exists()  # killed and reaped
        assert process_group_members(proc.pid) == []
    finally:
        kill_all([grandchild])
        proc.kill()
        proc.wait(10)


# The test a killed pytest run leaves behind: Redis from its main thread; SeaweedFS and a
# worker from threads that end (as bench/ does through asyncio.to_thread). It writes their
# pids to a marker file once all are up, then waits to be killed.
INNER_TEST = """\
import json, os, threading, time
from pathlib import Path

from storage_jobs.devstack import RedisServer, SeaweedFS
from storage_jobs.devstack.workers import WorkerProcess


def in_thread(fn):
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join()


def test_hold_servers(tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    s3 = SeaweedFS(tmp_path / "s3")
    in_thread(s3.start)
    worker = WorkerProcess(
        {
            "STORAGE_JOBS_REDIS_URL": redis.url,
            "STORAGE_JOBS_S3_ENDPOINT_URL": s3.endpoint_url,
            "STORAGE_JOBS_S3_ACCESS_KEY_ID": s3.access_key,
            "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": s3.secret_key,
        },
        tmp_path / "worker.log",
    )
    in_thread(worker.start)
    pids = {"redis": redis.proc.pid, "weed": s3.pid, "worker": worker.pid}
    ports = [redis.port, s3.ports["s3.port"], s3.ports["master.port"]]
    Path(os.environ["MARKER"]).write_text(json.dumps({"pids": pids, "ports": ports}))
    time.sleep(600)
"""


@pytest.mark.integration
def test_a_sigkilled_pytest_run_leaves_no_server_behind(tmp_path: Path) -> None:
    """SIGKILL a pytest run holding Redis, SeaweedFS and a worker: all of them go, ports free."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    marker = tmp_path / "pids.json"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    # Its own rootdir and temp root: pytest prunes old temp dirs under the default root.
    argv += ["--rootdir", str(tmp_path), "--basetemp", str(tmp_path / "inner-tmp")]
    inner = subprocess.Popen(
        [*argv, str(tmp_path / "test_inner.py")],
        cwd=tmp_path,
        env={**os.environ, "MARKER": str(marker)},
        stdout=(tmp_path / "inner.out").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pids: dict[str, int] = {}
    weed_argv: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert inner.poll() is None, (tmp_path / "inner.out").read_text()
            assert time.monotonic() < deadline, "the inner run did not start its servers"
            time.sleep(0.2)
        time.sleep(0.2)  # the marker is written in one go, but let the write land
        started = json.loads(marker.read_text())
        pids = started["pids"]
        assert all(alive(pid) for pid in pids.values())
        assert "weed" in cmdline(pids["weed"])
        ports = listening_ports(pids.values())  # redis's, and weed's many listeners
        weed_argv = cmdline(pids["weed"]).split()
        assert set(started["ports"]) <= ports

        inner.kill()
        inner.wait(10)
        took, left = wait_gone(pids.values(), timeout=5)
        assert left == [], f"{[cmdline(p) for p in left]} outlived the SIGKILLed pytest"
        print(f"stack gone {took:.2f} s after SIGKILL of pytest")
        assert [port for port in sorted(ports) if not port_is_free(port)] == []
    finally:
        inner.kill()
        inner.wait(10)
        kill_all(pids.values())
        remove_weed_litter(weed_argv)
