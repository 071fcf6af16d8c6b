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
from ..sizes import Sizes
from ..stack import fill_via_filer, wait_for_results
from ._base import Context, Scenario
from .pickup import percentile

__all__ = ["Lanes"]

_OURS = "priority normal (the default): claimed before the migration's bulk batches"
_BASE = "priority bulk: FIFO behind the batches, as in a single-lane queue (plain arq)"
_CONFIGS = {"lanes": "lanes_batch_size", "lanes_small": "lanes_small_batch_size"}
"""Row key prefix -> the size that gives that pair of rows its migration's batch size."""


def _rows(prefix: str, batches: str) -> tuple[Row, Row]:
    title = f"upload start latency {{}} during a migration, {batches}, 1 worker"
    return (
        Row(
            key=f"{prefix}_p50",
            title=title.format("p50"),
            unit="ms",
            ours_label=_OURS,
            baseline_label=_BASE,
            checks=(
                Check("running_at_last_start", "==", 1.0, "migration running at the last start"),
            ),
            higher_is_better=False,
        ),
        Row(
            key=f"{prefix}_p99",
            title=title.format("p99"),
            unit="ms",
            ours_label=_OURS,
            baseline_label=_BASE,
            checks=(Check("ours", "<=", 1000.0, "<= 1 s"),),
            higher_is_better=False,
        ),
    )


@dataclass(frozen=True)
class _Side:
    """What one side measured: start latencies (ms) and the counts behind them."""

    latencies: list[float]
    uploads_ok: int
    copied: int
    running_at_last_start: bool
    backlogs: list[int]  # batches waiting (due, unclaimed) as each upload was enqueued
    done_at_first: int
    done_after_uploads: int

    def figures(self, prefix: str) -> dict[str, float]:
        """This side's figures for a sample's extras, names prefixed (``baseline_``)."""
        return {
            f"{prefix}p95": percentile(self.latencies, 95),
            f"{prefix}max": max(self.latencies),
            f"{prefix}uploads_ok": float(self.uploads_ok),
            f"{prefix}copied": float(self.copied),
            f"{prefix}running_at_last_start": float(self.running_at_last_start),
            f"{prefix}backlog_at_first": float(self.backlogs[0]),
            f"{prefix}backlog_min": float(min(self.backlogs)),
            f"{prefix}done_at_first": float(self.done_at_first),
            f"{prefix}done_after_uploads": float(self.done_after_uploads),
        }


class Lanes(Scenario):
    """One worker runs a MigrateJob; uploads enqueued mid-way, one at a time, are timed to start.

    Ours enqueues them with the default priority (``normal``), the baseline with ``bulk``: behind
    the migration's batches in arrival order, which is what one FIFO queue without lanes does.
    Start latency is each upload's result ``st`` (the worker's clock when it began the job)
    minus the wall clock just before its enqueue call (same machine clock). The uploads begin
    once every batch slot is busy and at least ``lanes_max_jobs`` batches wait behind them.
    Two batch sizes, each its own migration per side: a lane frees no slot, so without the
    worker's reserved slot (``STORAGE_JOBS_RESERVED_SLOTS``) an upload waits for the next batch
    to end, and a batch's length bounds the wait; with it, a slot is free when the upload comes.
    """

    name = "lanes"
    rows = (
        *_rows("lanes", "MigrateJob's default batches"),
        *_rows("lanes_small", "small batches"),
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
        samples: dict[str, Sample] = {}
        for prefix, size_name in _CONFIGS.items():
            batch_size = int(getattr(ctx.sizes, size_name))
            got: dict[str, _Side] = {}
            order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
            for side in order:
                priority: Priority = "normal" if side == "ours" else "bulk"
                name = f"{prefix}-{side}"
                got[side] = await self._side(ctx, run, name, priority, batch_size)
            ours, base = got["ours"], got["baseline"]
            extra = {**ours.figures(""), **base.figures("baseline_")}
            for pct in (50, 99):
                samples[f"{prefix}_p{pct}"] = Sample(
                    percentile(ours.latencies, pct), percentile(base.latencies, pct), extra
                )
        return samples

    async def _side(
        self, ctx: Context, run: int, name: str, priority: Priority, batch_size: int
    ) -> _Side:
        sizes = ctx.sizes
        n = sizes.lanes_objects
        queue = ctx.stack.queue(name)
        env = ctx.stack.worker_env(queue, STORAGE_JOBS_MAX_JOBS=str(sizes.lanes_max_jobs))
        worker = await ctx.stack.start_worker(env, name)
        try:
            settings = Settings(redis_url=ctx.stack.redis_url, queue_name=queue)
            async with StorageJobsClient(settings=settings) as client:
                job = MigrateJob(
                    src_bucket=self.src_bucket,
                    src_prefix="src/",
                    dst_bucket=ctx.stack.bucket("lanes-dst"),
                    dst_prefix=f"run{run}/{name}/",
                    batch_size=batch_size,
                )
                migration = await client.enqueue(job)
                done_at_first = await _backed_up(client, sizes, migration.job_id)
                sent, backlogs = await self._uploads(ctx, client, run, name, priority)
                await wait_for_results(client.redis, queue, list(sent), timeout=1800)
                done_after = (await client.progress(migration.job_id)).done
                result = await migration.result(timeout=1800)
                starts, ok = await _starts(client, list(sent))
                migration_end = await _finished_ms(client, migration.job_id)
        finally:
            await ctx.stack.stop_worker(worker)
        if result.copied != n:
            raise RuntimeError(f"{name}: the migration copied {result.copied} of {n}")
        return _Side(
            latencies=[starts[j] - at * 1000 for j, at in sent.items()],
            uploads_ok=ok,
            copied=result.copied,
            running_at_last_start=migration_end > max(starts.values()),
            backlogs=backlogs,
            done_at_first=done_at_first,
            done_after_uploads=done_after,
        )

    async def _uploads(
        self, ctx: Context, client: StorageJobsClient, run: int, name: str, priority: Priority
    ) -> tuple[dict[str, float], list[int]]:
        """Enqueues the uploads one at a time on a fixed random spacing.

        Returns:
            Job id -> wall time just before its enqueue, and the batches waiting at each.
        """
        rng = random.Random(run)  # noqa: S311 - spacing only: the same gaps on both sides
        bucket = ctx.stack.bucket("lanes-uploads")
        body = bytes(range(256)) * (ctx.sizes.upload_bytes // 256)
        sent: dict[str, float] = {}
        backlogs = []
        for i in range(ctx.sizes.lanes_uploads):
            if i:
                await asyncio.sleep(rng.uniform(0.1, 0.3))
            backlogs.append((await _bulk_lane(client))[0])
            upload = UploadJob(bucket=bucket, key=f"run{run}/{name}/{i:03d}", data=body)
            at = time.time()
            handle = await client.enqueue(upload, priority=priority)
            sent[handle.job_id] = at
        return sent, backlogs


async def _bulk_lane(client: StorageJobsClient) -> tuple[int, int]:
    """(batches waiting, batches running) in the bulk lane.

    A claimed job's score is its lease's deadline, in the future: running ones are not due.
    """
    now_ms = int(time.time() * 1000)
    bulk = QueueKeys(client.queue_name).lane("bulk")
    waiting = await client.redis.zcount(bulk, "-inf", now_ms)
    running = await client.redis.zcount(bulk, f"({now_ms}", "+inf")
    return waiting, running


async def _backed_up(client: StorageJobsClient, sizes: Sizes, migration_id: str) -> int:
    """Waits until every batch slot runs a batch and ``lanes_max_jobs`` more wait; copied then.

    The coordinator holds one of the worker's slots; the batches get the others but the
    reserved ones (``STORAGE_JOBS_RESERVED_SLOTS``, default), one at least.
    """
    reserved = Settings.model_fields["reserved_slots"].default
    batch_slots = max(1, sizes.lanes_max_jobs - 1 - reserved)
    deadline = time.monotonic() + 600
    while True:
        waiting, running = await _bulk_lane(client)
        progress = await client.progress(migration_id)
        if running >= batch_slots and waiting >= sizes.lanes_max_jobs:
            return progress.done
        if progress.finished:
            raise RuntimeError(f"the migration finished before its batches backed up: {progress}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the batches never backed up: {waiting} waiting, {running} run")
        await asyncio.sleep(0.02)


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
