"""Worker subprocesses for the benchmarks: the devstack's, run from the project root."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from storage_jobs.devstack.workers import WorkerProcess as _WorkerProcess
from storage_jobs.devstack.workers import peak_rss_bytes

__all__ = ["WorkerProcess", "cpu_seconds", "peak_rss_bytes"]

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess(_WorkerProcess):
    """A devstack worker that can import ``bench`` (for arq's baseline worker) and says more."""

    def __init__(self, env: dict[str, str], log_path: Path, **options: Any) -> None:
        pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        super().__init__({**env, "PYTHONPATH": pythonpath}, log_path, cwd=ROOT, **options)

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

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far."""
        return cpu_seconds(self.pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far, from ``/proc/<pid>/stat``."""
    # Fields after the command name, which may itself hold spaces and parentheses.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
