"""Worker subprocesses for tests, benchmarks and demos: started by the real CLI, logs as JSON."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from .processes import spawn, stop_process_group

__all__ = ["WorkerProcess", "cli_path", "peak_rss_bytes"]


def cli_path() -> str:
    """The installed ``storage-jobs`` console script.

    Raises:
        RuntimeError: If it is not installed next to this interpreter or on PATH.
    """
    beside = Path(sys.executable).parent / "storage-jobs"
    found = str(beside) if beside.exists() else shutil.which("storage-jobs")
    if not found:
        raise RuntimeError("storage-jobs console script not installed (run uv sync)")
    return found


def peak_rss_bytes(pid: int) -> int:
    """VmHWM (peak RSS) of a live process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


class WorkerProcess:
    """One worker subprocess logging JSON lines; it dies with this process (SIGKILL).

    It has a session of its own, so it can be killed cleanly with whatever it started.

    Args:
        env: Extra environment (``STORAGE_JOBS_*``); the log format is forced to JSON.
        log_path: Where its stdout and stderr go.
        name: For messages.
        argv: The command; ``storage-jobs worker`` by default.
        profile: Run it under cProfile, dumping the profile here when it exits.
        ready_event: The log event that says it is ready; ``None`` to not wait.
        cwd: Its working directory.
    """

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        name: str = "worker",
        argv: list[str] | None = None,
        profile: Path | None = None,
        ready_event: str | None = "worker.started",
        cwd: Path | None = None,
    ) -> None:
        self.env = {**os.environ, **env, "STORAGE_JOBS_LOG_FORMAT": "json"}
        self.log_path = log_path
        self.name = name
        self.ready_event = ready_event
        self.cwd = cwd
        if profile is not None:
            command = argv or ["-m", "storage_jobs", "worker"]
            self.argv = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
        elif argv is not None:
            self.argv = [sys.executable, *argv]
        else:
            self.argv = [cli_path(), "worker"]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, *, wait: float = 30.0) -> WorkerProcess:
        """Starts the process and waits for its ready event."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = spawn(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.ready_event is None or any(
                e.get("event") == self.ready_event for e in self.events()
            ):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{tail}")

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (other lines are skipped)."""
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.proc is not None and self.running():
            stop_process_group(self.proc, sig=signal.SIGKILL, timeout=10)

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return 0
        if self.running():
            stop_process_group(self.proc, timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode
