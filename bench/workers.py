"""Worker subprocesses: ``storage-jobs worker`` (optionally under cProfile) and arq's own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["WorkerProcess", "peak_rss_bytes"]

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    """One worker subprocess writing JSON log lines to ``log_path``.

    Args:
        env: Extra environment (``STORAGE_JOBS_*``).
        log_path: Where its stdout and stderr go.
        name: For messages.
        argv: The command; ``storage-jobs worker`` (via ``python -m storage_jobs``) by default.
        profile: Write a cProfile of the whole process here (dumped when it exits).
        ready_event: The log event that says it is ready; ``None`` to only wait ``ready_s``.
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
    ) -> None:
        self.env = {
            **os.environ,
            **env,
            "STORAGE_JOBS_LOG_FORMAT": "json",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        self.log_path = log_path
        self.name = name
        self.ready_event = ready_event
        command = argv or ["-m", "storage_jobs", "worker"]
        if profile is not None:
            command = ["-m", "cProfile", "-o", str(profile), *command]
        self.argv = [sys.executable, *command]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, *, wait: float = 30.0) -> WorkerProcess:
        """Starts the process and waits until it is ready."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed argv
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
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

    def job_starts(self) -> dict[str, float]:
        """Job id -> epoch seconds of its ``job.start`` event."""
        starts = {}
        for event in self.events():
            if event.get("event") == "job.start" and "timestamp" in event:
                stamp = datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))
                starts[str(event.get("job_id"))] = stamp.timestamp()
        return starts

    def peak_rss(self) -> int:
        """The process's peak resident set size so far, in bytes."""
        return peak_rss_bytes(self.pid)

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return 0
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def peak_rss_bytes(pid: int) -> int:
    """VmHWM (peak RSS) of a live process, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")
