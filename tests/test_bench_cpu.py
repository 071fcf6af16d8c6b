"""bench/cpu.py: a side's CPU per process and Redis commands, counted over its window."""

from __future__ import annotations

import time

import pytest
import redis as sync_redis
from bench.cpu import CpuMeter, CpuWindow

from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration


def _spin(cpu_s: float) -> None:
    """Burns ``cpu_s`` seconds of this process's CPU (not of the wall clock)."""
    until = time.process_time() + cpu_s
    while time.process_time() < until:
        pass


def test_the_window_counts_this_process_cpu_and_the_commands_sent_in_it(
    redis_server: TestRedis,
) -> None:
    """0.3 CPU seconds spent and ten PINGs sent inside the window are in its counts."""
    url = redis_server.url(11)
    meter = CpuMeter(url, seaweedfs_pid=None)
    client = sync_redis.Redis.from_url(url)
    try:
        meter.start()
        _spin(0.3)
        for _ in range(10):
            client.ping()
        window = meter.stop()
    finally:
        client.close()
        meter.close()
    assert window.cpu["bench"] >= 0.28  # clock ticks of 10 ms: one may fall either side
    assert set(window.cpu) == {"bench", "redis"}  # no worker, no SeaweedFS given
    # Other tests may share the server: at least ours, none lost.
    assert window.redis_commands >= 10
    assert window.machine >= window.cpu["bench"]


def test_per_object_figures_are_milliseconds_per_object_and_others_the_rest() -> None:
    """Per object: ms of each process, their total, the machine's rest, commands."""
    window = CpuWindow(cpu={"bench": 0.2, "worker": 0.6}, redis_commands=500, machine=1.0)
    assert window.per_object(100, "baseline_") == {
        "baseline_cpu_ms_bench": pytest.approx(2.0),
        "baseline_cpu_ms_worker": pytest.approx(6.0),
        "baseline_cpu_ms_total": pytest.approx(8.0),
        "baseline_cpu_ms_others": pytest.approx(2.0),
        "baseline_redis_commands": 5.0,
    }
