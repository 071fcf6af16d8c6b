"""Baseline worker for pickup latency: plain arq, default 0.5 s polling, one no-op function.

Run as ``python -m bench.arq_noop`` with ``BENCH_REDIS_URL`` and ``BENCH_QUEUE`` set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from arq import run_worker
from arq.connections import RedisSettings


async def noop(ctx: dict[str, Any]) -> float:
    """Does nothing; returns when it started (epoch seconds)."""
    return time.time()


async def _started(ctx: dict[str, Any]) -> None:
    print(json.dumps({"event": "worker.started"}), file=sys.stderr, flush=True)


class WorkerSettings:
    """arq's defaults but for the queue and Redis."""

    functions = [noop]
    queue_name = os.environ.get("BENCH_QUEUE", "arq:queue")
    redis_settings = RedisSettings.from_dsn(os.environ.get("BENCH_REDIS_URL", "redis://"))
    on_startup = _started


if __name__ == "__main__":
    run_worker(WorkerSettings)  # type: ignore[arg-type]
