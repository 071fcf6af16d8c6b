"""CPU seconds per process over a timed window: where a side's time went, as counts.

On a shared machine a rate moves with whatever else runs; the CPU each process of a side spent
per object does not (much), so a ratio that moves can be told apart from work that grew.
``others`` is the machine's busy CPU that none of the side's processes spent (other users).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis as sync_redis

from .workers import cpu_seconds

__all__ = ["CpuMeter", "CpuWindow", "machine_busy_seconds"]

PROCESSES = ("bench", "worker", "redis", "seaweedfs")


def machine_busy_seconds() -> float:
    """Every CPU's busy time since boot (``/proc/stat``: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuWindow:
    """One side's counts: CPU seconds per process, Redis commands, machine busy seconds."""

    cpu: dict[str, float] = field(default_factory=dict)
    redis_commands: float = 0.0
    machine: float = 0.0

    def per_object(self, n: int, prefix: str = "") -> dict[str, float]:
        """Milliseconds of CPU per object for each process, ``others``, and commands per object."""
        out = {f"{prefix}cpu_ms_{name}": 1000 * s / n for name, s in self.cpu.items()}
        ours = sum(self.cpu.values())
        out[f"{prefix}cpu_ms_total"] = 1000 * ours / n
        out[f"{prefix}cpu_ms_others"] = 1000 * max(self.machine - ours, 0.0) / n
        out[f"{prefix}redis_commands"] = self.redis_commands / n
        return out


class CpuMeter:
    """Snapshots the bench, a worker, redis-server and SeaweedFS around one timed window.

    Redis's process is found through ``INFO`` (it must run on this machine); its command count
    includes the bench's own polling, alike on every side that polls.
    """

    def __init__(self, redis_url: str, seaweedfs_pid: int | None) -> None:
        self._redis = sync_redis.Redis.from_url(redis_url)
        self._pids: dict[str, int] = {"bench": os.getpid()}
        if seaweedfs_pid is not None:
            self._pids["seaweedfs"] = seaweedfs_pid
        self._pids["redis"] = int(self._info("server")["process_id"])
        self._pids_now = dict(self._pids)
        self._start: tuple[dict[str, float], float, float] | None = None
        self.window = CpuWindow()

    def start(self, worker_pid: int | None = None) -> None:
        """Opens the window (with the side's worker, if it has one)."""
        pids = dict(self._pids)
        if worker_pid is not None:
            pids["worker"] = worker_pid
        self._pids_now = pids
        self._start = self._snapshot()

    def stop(self) -> CpuWindow:
        """Closes the window and returns its counts."""
        assert self._start is not None, "stop() before start()"
        cpu0, commands0, machine0 = self._start
        cpu1, commands1, machine1 = self._snapshot()
        self.window = CpuWindow(
            cpu={name: cpu1[name] - cpu0[name] for name in PROCESSES if name in cpu0},
            redis_commands=commands1 - commands0 - 1,  # the opening INFO
            machine=machine1 - machine0,
        )
        self._start = None
        return self.window

    def _snapshot(self) -> tuple[dict[str, float], float, float]:
        machine = machine_busy_seconds()
        cpu = {name: cpu_seconds(pid) for name, pid in self._pids_now.items()}
        commands = float(self._info("stats")["total_commands_processed"])
        return cpu, commands, machine

    def _info(self, section: str) -> dict[str, Any]:
        return cast("dict[str, Any]", self._redis.info(section))

    def close(self) -> None:
        """Closes its Redis connection."""
        self._redis.close()
