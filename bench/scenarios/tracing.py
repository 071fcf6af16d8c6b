"""Tracing's cost per job: queued uploads with tracing on against the same with it off.

Both sides are the ``peers`` queue side (N inline 1 KiB ``UploadJob``s, ``enqueue_many`` -> one
worker, ``max_jobs=32``), in the same run, alternating which goes first. On: the producer and
the worker (``bench/traced_worker.py``) run OpenTelemetry's SDK with a batch span processor whose
exporter counts the spans and drops them; each job is then one span in the worker, each of its
S3 requests another, and its envelope carries the producer's ``traceparent``. Off is the default:
nothing of OpenTelemetry is imported (``tests/tracing/test_tracing_off.py``); that side against
direct aioboto3 is ``peers``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from typing_extensions import override

from ..cpu import CpuMeter, CpuWindow
from ..model import Check, Row, Sample
from ..traced_worker import install
from ._base import Context, Scenario
from .uploads import count_stored, queued_uploads

__all__ = ["Tracing"]

SIDES = ("off", "on")


class Tracing(Scenario):
    """N inline 1 KiB uploads traced and untraced; ours is traced."""

    name = "tracing"
    rows = (
        Row(
            key="tracing_on",
            title="tracing: queued uploads traced vs untraced",
            unit="objects/s",
            ours_label="queue, STORAGE_JOBS_TRACING=true (SDK, batch processor, spans dropped)",
            baseline_label="queue, tracing off (the default)",
            checks=(
                Check("job_spans_per_job", "==", 1.0, "one span a job run"),
                Check("put_spans_per_job", "==", 1.0, "one S3 span a PutObject"),
            ),
        ),
    )

    @override
    async def setup(self, ctx: Context) -> None:
        """The producer's SDK (this process's global provider, set once)."""
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            install()

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        n = ctx.sizes.peer_uploads
        bucket = ctx.stack.bucket("tracing")
        body = bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        order = SIDES if run % 2 == 0 else SIDES[::-1]
        spans_file = ctx.workdir / f"tracing-spans-{run}.txt"
        rates: dict[str, float] = {}
        cpu: dict[str, CpuWindow] = {}
        meter = CpuMeter(ctx.stack.redis_url, ctx.stack.seaweedfs.pid)
        try:
            for side in order:
                await ctx.stack.settle()
                traced = side == "on"
                env = {"STORAGE_JOBS_TRACING": "true", "BENCH_SPANS_FILE": str(spans_file)}
                rates[side] = await queued_uploads(
                    ctx,
                    bucket,
                    f"run{run}/{side}",
                    body,
                    n,
                    meter,
                    argv=["-m", "bench.traced_worker"] if traced else None,
                    tracing=traced,
                    **(env if traced else {}),
                )
                cpu[side] = meter.window
                ctx.stack.flush_redis()
        finally:
            meter.close()
        stored = await count_stored(ctx, bucket, [f"run{run}/{side}" for side in SIDES])
        spans = _spans(spans_file)
        jobs = n + 1  # the warm-up job is traced too
        return {
            "tracing_on": Sample(
                rates["on"],
                rates["off"],
                {
                    "stored": stored[f"run{run}/on"],
                    "baseline_stored": stored[f"run{run}/off"],
                    "job_spans_per_job": spans.get("process upload", 0) / jobs,
                    "put_spans_per_job": spans.get("S3.PutObject", 0) / jobs,
                    **cpu["on"].per_object(n),
                    **cpu["off"].per_object(n, "baseline_"),
                },
            )
        }


def _spans(path: Path) -> dict[str, int]:
    """The spans the traced worker exported, by name (none if it wrote no count)."""
    for _ in range(50):  # the worker writes them as it exits, as stop_worker returns
        if path.exists() and path.read_text().strip():
            counts: dict[str, int] = json.loads(path.read_text())
            return counts
        time.sleep(0.1)
    return {}
