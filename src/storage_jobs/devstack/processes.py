"""Child processes that die with the process that started them, and stop with their children.

Every server and worker the devstack starts goes through :func:`spawn` and
:func:`stop_process_group`:

- The child gets a session (so a process group) of its own: a terminal's Ctrl-C does not reach
  it, and a stop signals the server and whatever it forked.
- On Linux the child also gets a parent-death signal (``prctl(PR_SET_PDEATHSIG)``), so it dies
  when the process that started it dies in any way, SIGKILL included. Elsewhere there is no such
  mechanism; callers stop children on every exit path that runs code (``atexit``, signals).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

__all__ = ["PDEATHSIG_SUPPORTED", "process_group_members", "spawn", "stop_process_group"]

PDEATHSIG_SUPPORTED = sys.platform.startswith("linux")
"""Whether children get a parent-death signal here (Linux only)."""

_HAS_PROC = Path("/proc/self/stat").exists()

# Runs in the forked child before the real program: sets the parent-death signal, then execs
# the program in the same process (same pid, so callers see the server's own pid). A wrapper
# rather than ``preexec_fn``: Python code between fork and exec is unsafe in a process with
# threads (the dev command and the tests have several), and ``preexec_fn`` also rules out
# vfork. The signal survives execve (it is cleared only for set-uid programs).
# argv: signal, expected parent pid, program, args...
_WRAPPER = """\
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, int(sys.argv[1]), 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != int(sys.argv[2]):  # the parent died before prctl: nothing would kill us
    sys.exit(1)
os.execvp(sys.argv[3], sys.argv[3:])
"""


def _wrap(args: Sequence[str | os.PathLike[str]], death_signal: signal.Signals) -> list[str]:
    argv = [os.fspath(a) for a in args]
    if not PDEATHSIG_SUPPORTED:
        return argv
    return [
        sys.executable, "-I", "-S", "-c", _WRAPPER,
        str(int(death_signal)), str(os.getpid()),
        *argv,
    ]  # fmt: skip


class _Spawner:
    """A thread that lives as long as the process, to fork children from.

    Linux sends the parent-death signal when the *thread* that forked the child exits, not
    when its process does. Children forked by a short-lived thread (``asyncio.to_thread``,
    an executor, a fixture's helper thread) would be killed as soon as that thread ends, or,
    if it ended before the child's ``prctl``, never (the wrapper's parent check sees the
    process, not the thread). So children are forked by the main thread, which lives as long
    as the process, or else by this daemon thread, which is never stopped or joined: it ends
    only with the process.
    """

    def __init__(self) -> None:
        self._pid = -1
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        if threading.current_thread() is threading.main_thread():
            return fn()
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked copy of this process
                self._jobs = queue.SimpleQueue()
                threading.Thread(
                    target=self._serve, args=(self._jobs,), name="devstack-spawner", daemon=True
                ).start()
                self._pid = os.getpid()
            future: Future[subprocess.Popen[bytes]] = Future()
            self._jobs.put((fn, future))
        return future.result()

    @staticmethod
    def _serve(jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]]) -> None:
        while True:
            fn, future = jobs.get()
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


_SPAWNER = _Spawner()


def spawn(
    args: Sequence[str | os.PathLike[str]],
    *,
    death_signal: signal.Signals = signal.SIGKILL,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start a child in a session of its own that dies with this process.

    Args:
        args: The program and its arguments.
        death_signal: What the child gets when this process dies (Linux): SIGKILL by default,
            SIGTERM for a server that stops fast and should stop its own children.
        **popen: More ``subprocess.Popen`` arguments (``stdout``, ``env``, ``cwd``...).

    Returns:
        The child; its ``pid`` is the program's own (the wrapper execs in place).
    """
    argv = _wrap(args, death_signal)
    # ``start_new_session``: the child's group is its own, so stop_process_group reaches its
    # children and a terminal's Ctrl-C (sent to our group) does not.
    return _SPAWNER.run(
        lambda: subprocess.Popen(argv, start_new_session=True, **popen)  # noqa: S603
    )


def process_group_members(pgid: int) -> list[int]:
    """Pids of the processes in group ``pgid`` (zombies included), from ``/proc``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process_group(
    proc: subprocess.Popen[bytes],
    *,
    timeout: float = 5.0,
    sig: signal.Signals = signal.SIGTERM,
    reap_timeout: float = 5.0,
) -> int | None:
    """Stop a child started by :func:`spawn` and every process in its group.

    ``sig`` goes to the whole group; after ``timeout`` seconds the group gets SIGKILL. Once
    the child has exited, anything left in its group (children it did not stop) is killed
    and waited for until the group is gone, so nothing is orphaned; strays that were handed
    to this process as their reaper (it is PID 1 or a subreaper) are reaped here. Idempotent.

    Args:
        proc: The child (the leader of its process group).
        timeout: Seconds the child gets to exit after ``sig``.
        sig: The stop signal.
        reap_timeout: Upper bound on the wait for the rest of the group.

    Returns:
        The child's exit code (negative: killed by that signal), or None if it never exited.
    """
    pgid = proc.pid
    if proc.poll() is None:
        _signal_group(pgid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(reap_timeout)
    deadline = time.monotonic() + reap_timeout
    while _signal_group(pgid, signal.SIGKILL) and time.monotonic() < deadline:
        if _HAS_PROC:
            for pid in process_group_members(pgid):
                if pid != proc.pid:  # never steal the status Popen waits for
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    return proc.returncode
