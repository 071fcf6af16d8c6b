"""Worker subprocesses for end-to-end tests: started by the real CLI, logs kept as JSON lines."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def cli_path() -> str:
    """The installed ``storage-jobs`` console script."""
    found = shutil.which("storage-jobs") or str(Path(sys.executable).parent / "storage-jobs")
    if not Path(found).exists():
        raise RuntimeError("storage-jobs console script not installed (run uv sync)")
    return found


class WorkerProcess:
    """One ``storage-jobs worker`` subprocess."""

    def __init__(self, env: dict[str, str], log_path: Path, *, name: str = "worker") -> None:
        self.env = {**os.environ, **env, "STORAGE_JOBS_LOG_FORMAT": "json"}
        self.log_path = log_path
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: float = 20.0) -> WorkerProcess:
        """Starts the worker and waits for its ``worker.started`` event."""
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [cli_path(), "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if any(e.get("event") == "worker.started" for e in self.events()):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text()[-3000:]}")

    @property
    def pid(self) -> int:
        """The process id."""
        assert self.proc is not None
        return self.proc.pid

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log line so far."""
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "<non-json>", "line": line})
        return out

    def running(self) -> bool:
        """Whether the process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.running():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc is None:
            return 0
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode
