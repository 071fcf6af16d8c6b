"""Priority lanes: start latency of uploads enqueued while a migration keeps one worker busy."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import MigrateJob, UploadJob
from storage_jobs.queue import Priority, QueueKeys, decode
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import fill_via_filer, wait_for_results
from ._base import Context, Scenario
from .pickup import percentile

__all__ = ["Lanes"]

_TITLE = "upload start latency {} while a migration runs (1 worker)"
_OURS = "priority normal (the default): claimed before the migration's bulk batches"
_BASE = "priority bulk: FIFO behind the batches, as in a single-lane queue (plain arq)"


@dataclass(frozen=True)
class _Side:
    """What one side measured: start latencies (ms) and the counts behind them."""

    latencies: list[float]
    uploads_ok: int
    copied: int
    running_at_last_start: bool
    backlog_at_first: int
    done_at_first: int
    done_after_uploads: int


class Lanes(Scenario):
    """One worker runs a MigrateJob; uploads enqueued mid-way, one at a time, are timed to start.

    Ours enqueues them with the default priority (``normal``), the baseline with ``bulk``: behind
    the migration's batches in arrival order, which is what one FIFO queue without lanes does.
    Start latency is each upload's result ``st`` (the worker's clock when it began the job)
    minus the wall clock just before its enqueue call (same machine clock).
    """

    name = "lanes"

    rows = (
        Row(
            key="lanes_p50",
            title=_TITLE.format("p50"),
            unit="ms",
            ours_label=_OURS,
            baseline_label=_BASE,
            checks=(
                Check("running_at_last_start", "==", 1.0, "migration running at the last start"),
            ),
            higher_is_better=False,
        ),
        Row(
            key="lanes_p99",
            title=_TITLE.format("p99"),
            unit="ms",
            ours_label=_OURS,
            baseline_label=_BASE,
            checks=(Check("ours", "<=", 1000.0, "<= 1 s"),),
            higher_is_better=False,
        ),
    )

    def __init__(self) -> None:
        self.src_bucket = ""

    @override
    async def setup(self, ctx: Context) -> None:
        self.src_bucket = ctx.stack.bucket("lanes-src")
        keys = [f"src/{i:06d}" for i in range(ctx.sizes.lanes_objects)]
        await fill_via_filer(ctx.stack, self.src_bucket, keys, b"m" * 1024)

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        got: dict[str, _Side] = {}
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        for side in order:
            priority: Priority = "normal" if side == "ours" else "bulk"
            got[side] = await self._side(ctx, run, side, priority)
        ours, base = got["ours"], got["baseline"]
        extra = {
            "p95": percentile(ours.latencies, 95),
            "max": max(ours.latencies),
            "baseline_p95": percentile(base.latencies, 95),
            "baseline_max": max(base.latencies),
            "uploads_ok": float(ours.uploads_ok),
            "baseline_uploads_ok": float(base.uploads_ok),
            "copied": float(ours.copied),
            "baseline_copied": float(base.copied),
            "running_at_last_start": float(ours.running_at_last_start),
            "baseline_running_at_last_start": float(base.running_at_last_start),
            "backlog_at_first": float(ours.backlog_at_first),
            "baseline_backlog_at_first": float(base.backlog_at_first),
            "done_at_first": float(ours.done_at_first),
            "done_after_uploads": float(ours.done_after_uploads),
            "baseline_done_at_first": float(base.done_at_first),
            "baseline_done_after_uploads": float(base.done_after_uploads),
        }
        return {
            "lanes_p50": Sample(
                percentile(ours.latencies, 50), percentile(base.latencies, 50), extra
            ),
            "lanes_p99": Sample(
                percentile(ours.latencies, 99), percentile(base.latencies, 99), extra
            ),
        }

    async def _side(self, ctx: Context, run: int, side: str, priority: Priority) -> _Side:
        sizes = ctx.sizes
        n = sizes.lanes_objects
        dst = ctx.stack.bucket("lanes-dst")
        queue = ctx.stack.queue(f"lanes-{side}")
        env = ctx.stack.worker_env(queue, STORAGE_JOBS_MAX_JOBS=str(sizes.lanes_max_jobs))
        worker = await ctx.stack.start_worker(env, f"lanes-{side}")
        try:
            settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                job = MigrateJob(
                    src_bucket=self.src_bucket,
                    src_prefix="src/",
                    dst_bucket=dst,
                    dst_prefix=f"run{run}/{side}/",
                    batch_size=sizes.lanes_batch_size,
                )
                migration = await client.enqueue(job)
                bulk = QueueKeys(queue).lane("bulk")

                async def flowing() -> tuple[int, int] | None:
                    """(batches waiting, objects copied) once batches run and more wait behind."""
                    now_ms = int(time.time() * 1000)
                    # A running batch's score is its lease's deadline: not due, so not waiting.
                    waiting = await client.redis.zcount(bulk, "-inf", now_ms)
                    running = await client.redis.zcount(bulk, f"({now_ms}", "+inf")
                    progress = await client.progress(migration.job_id)
                    if running >= 1 and waiting >= 1:
                        return waiting, progress.done
                    if progress.finished:
                        raise RuntimeError(f"migration finished before a backlog: {progress}")
                    return None

                deadline = time.monotonic() + 600
                while (first := await flowing()) is None:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the migration's batches never backed up")
                    await asyncio.sleep(0.02)
                sent = await self._uploads(ctx, client, run, side, priority)
                await wait_for_results(client.redis, queue, list(sent), timeout=1800)
                done_after = (await client.progress(migration.job_id)).done
                result = await migration.result(timeout=1800)
                starts, ok = await _starts(client, list(sent))
                migration_end = await _finished_ms(client, migration.job_id)
        finally:
            await ctx.stack.stop_worker(worker)
        if result.copied != n:
            raise RuntimeError(f"{side}: the migration copied {result.copied} of {n}")
        return _Side(
            latencies=[starts[j] - at * 1000 for j, at in sent.items()],
            uploads_ok=ok,
            copied=result.copied,
            running_at_last_start=migration_end > max(starts.values()),
            backlog_at_first=first[0],
            done_at_first=first[1],
            done_after_uploads=done_after,
        )

    async def _uploads(
        self, ctx: Context, client: StorageJobsClient, run: int, side: str, priority: Priority
    ) -> dict[str, float]:
        """Enqueues the uploads one at a time on a fixed random spacing; job id -> wall time."""
        rng = random.Random(run)  # noqa: S311 - spacing only: the same gaps on both sides
        bucket = ctx.stack.bucket("lanes-uploads")
        body = bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        sent: dict[str, float] = {}
        for i in range(ctx.sizes.lanes_uploads):
            if i:
                await asyncio.sleep(rng.uniform(0.1, 0.3))
            upload = UploadJob(bucket=bucket, key=f"run{run}/{side}/{i:03d}", data=body)
            at = time.time()
            handle = await client.enqueue(upload, priority=priority)
            sent[handle.job_id] = at
        return sent


async def _starts(client: StorageJobsClient, job_ids: list[str]) -> tuple[dict[str, int], int]:
    """Each job's start (its result's ``st``, ms) and how many succeeded."""
    raws = await client.redis.mget([QueueKeys.result(j) for j in job_ids])
    records = {j: decode(raw) for j, raw in zip(job_ids, raws, strict=True) if raw is not None}
    if len(records) != len(job_ids):
        raise RuntimeError(f"{len(job_ids) - len(records)} results missing")
    starts = {j: int(r["st"]) for j, r in records.items()}
    return starts, sum(1 for r in records.values() if r.get("s"))


async def _finished_ms(client: StorageJobsClient, job_id: str) -> int:
    raw = await client.redis.get(QueueKeys.result(job_id))
    if raw is None:
        raise RuntimeError(f"no result for {job_id}")
    return int(decode(raw)["ft"])
