"""One large file uploaded from a path: UploadJob(path=...) vs boto3 upload_file, with peak RSS."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from typing_extensions import override

from storage_jobs.client import StorageJobsClient
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings

from ..model import Check, Row, Sample
from ..stack import wait_for_results
from ..workers import ROOT
from ._base import Context, Scenario

__all__ = ["LargeUpload"]

MiB = 1024 * 1024


class LargeUpload(Scenario):
    """Throughput in MiB/s and each side's peak RSS (worker process vs boto3 process)."""

    name = "large_upload"
    rows = (
        Row(
            key="large_upload",
            title="large upload from a path",
            unit="MiB/s",
            ours_label="UploadJob(path=...) -> worker",
            baseline_label="boto3 upload_file (default TransferConfig)",
            checks=(Check("ratio", ">=", 0.9, ">= 0.9x baseline"),),
        ),
        Row(
            key="large_upload_rss",
            title="large upload: peak RSS of the uploading process",
            unit="MiB",
            ours_label="worker process VmHWM",
            baseline_label="boto3 process max RSS",
            checks=(Check("ours", "<", 150.0, "< 150 MiB"),),
            higher_is_better=False,
        ),
    )

    def __init__(self) -> None:
        self.root: Path | None = None
        self.path: Path | None = None
        self.idle_rss = 0.0
        self.job_cpu_s = 0.0
        self.boto3_cpu_s = 0.0

    @override
    async def setup(self, ctx: Context) -> None:
        self.root = (ctx.workdir / "upload-root").resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "large.bin"
        block = os.urandom(MiB)
        remaining = ctx.sizes.large_file_bytes
        with self.path.open("wb") as fh:
            while remaining > 0:
                fh.write(block[: min(MiB, remaining)])
                remaining -= MiB

    @override
    async def teardown(self, ctx: Context) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    @override
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        bucket = ctx.stack.bucket("large")
        size_mib = ctx.sizes.large_file_bytes / MiB
        out: dict[str, tuple[float, float]] = {}
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        for side in order:
            key = f"run{run}/{side}"
            if side == "ours":
                out[side] = await self.upload_with_worker(ctx, bucket, key)
            else:
                out[side] = await self.upload_with_boto3(ctx, bucket, key)
        stored: dict[str, float] = {}
        async with ctx.stack.storage(pool=4) as storage:
            for side in order:
                head = await storage.head_object(bucket=bucket, key=f"run{run}/{side}")
                stored[side] = float(head["size"])
                await storage.delete_file(bucket=bucket, key=f"run{run}/{side}")
        await asyncio.to_thread(ctx.stack.vacuum)
        (ours_s, ours_rss), (base_s, base_rss) = out["ours"], out["baseline"]
        return {
            "large_upload": Sample(
                size_mib / ours_s,
                size_mib / base_s,
                {"stored_bytes": stored["ours"], "baseline_stored_bytes": stored["baseline"]},
            ),
            "large_upload_rss": Sample(
                ours_rss / MiB, base_rss / MiB, {"worker_rss_before_job": self.idle_rss / MiB}
            ),
        }

    async def upload_with_worker(
        self, ctx: Context, bucket: str, key: str, **env_extra: str
    ) -> tuple[float, float]:
        """One ``UploadJob`` of the file through a fresh worker: (seconds, worker peak RSS).

        ``env_extra`` goes into the worker's environment (``bench.large_upload_sweep`` sets
        the parts in flight and the part size this way). The CPU the worker used from ready
        to result is left in ``job_cpu_s``.
        """
        assert self.root is not None
        assert self.path is not None
        queue = ctx.stack.queue("large")
        env = ctx.stack.worker_env(queue, STORAGE_JOBS_UPLOAD_ROOTS=str(self.root), **env_extra)
        worker = await ctx.stack.start_worker(env, "large")
        self.idle_rss = float(worker.peak_rss())
        idle_cpu = worker.cpu_seconds()
        try:
            settings = Settings(
                redis_url=ctx.stack.redis_url, queue_name=queue, upload_roots=[self.root]
            )
            async with StorageJobsClient(settings=settings) as client:
                started = time.perf_counter()
                handle = await client.enqueue(
                    UploadJob(bucket=bucket, key=key, path=str(self.path))
                )
                done = await wait_for_results(client.redis, queue, [handle.job_id], timeout=1800)
                result = await handle.result(timeout=10)
            rss = worker.peak_rss()
            self.job_cpu_s = worker.cpu_seconds() - idle_cpu
        finally:
            await ctx.stack.stop_worker(worker)
        if result.size != ctx.sizes.large_file_bytes:
            raise RuntimeError(f"uploaded {result.size} bytes, not {ctx.sizes.large_file_bytes}")
        return done - started, float(rss)

    async def upload_with_boto3(self, ctx: Context, bucket: str, key: str) -> tuple[float, float]:
        """boto3 ``upload_file`` of the file in a process of its own: (seconds, its peak RSS).

        Its CPU during ``upload_file`` is left in ``boto3_cpu_s``.
        """
        assert self.path is not None
        seaweed = ctx.stack.seaweedfs
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": seaweed.access_key,
            "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
            "PYTHONPATH": str(ROOT),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.boto3_upload",
            seaweed.endpoint_url,
            bucket,
            key,
            str(self.path),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"boto3 upload failed: {stderr.decode(errors='replace')[-2000:]}")
        report = json.loads(stdout.decode().strip().splitlines()[-1])
        self.boto3_cpu_s = float(report["cpu_s"])
        return float(report["elapsed_s"]), float(report["peak_rss"])
