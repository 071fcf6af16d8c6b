"""``storage-jobs dev``: Redis, SeaweedFS and a worker on this machine, and a demo of every job."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..client import JobFailedError, StorageJobsClient
from ..devstack import FaultProxy, RedisServer, SeaweedFS
from ..jobs import CopyJob, DeleteJob, MigrateJob, UploadJob
from ..settings import Settings
from ._dev_dashboard import DevDashboard

__all__ = ["DevStack", "run_demo"]

DEMO_BUCKET = "demo"
ARCHIVE_BUCKET = "demo-archive"


class DevStack:
    """Everything ``dev`` starts, stopped in reverse order (also on Ctrl-C)."""

    def __init__(self, workdir: Path, console: Console) -> None:
        self.workdir = workdir
        self.console = console
        self.redis = RedisServer(workdir / "redis")
        self.s3 = SeaweedFS(workdir / "seaweedfs")
        self.proxy: FaultProxy | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.dashboard: DevDashboard | None = None
        self.uploads = workdir / "uploads"

    @contextlib.contextmanager
    def running(self) -> Iterator[DevStack]:
        """Starts every part; stops them all on exit, whatever happened."""
        with contextlib.ExitStack() as stack:
            with self.console.status("starting Redis"):
                self.redis.start()
            stack.callback(self.redis.stop)
            with self.console.status("starting SeaweedFS (S3)"):
                self.s3.start()
            stack.callback(self.s3.stop)
            # The worker talks to S3 through a fault proxy, so the demo can show a partial
            # DeleteObjects failure being retried.
            self.proxy = FaultProxy(
                self.s3.endpoint_url, credentials=(self.s3.access_key, self.s3.secret_key)
            )
            self.proxy.start_in_thread()
            stack.callback(self.proxy.stop_thread)
            self.uploads.mkdir(parents=True, exist_ok=True)
            with self.console.status("starting a worker"):
                self.worker = self._start_worker()
            stack.callback(self._stop_worker)
            self.dashboard = DevDashboard(self.settings()).start()
            stack.callback(self.dashboard.stop)
            yield self

    def worker_env(self) -> dict[str, str]:
        """The environment the worker runs with."""
        assert self.proxy is not None
        return {
            "STORAGE_JOBS_REDIS_URL": self.redis.url,
            "STORAGE_JOBS_QUEUE_NAME": "dev",
            "STORAGE_JOBS_S3_ENDPOINT_URL": self.proxy.url,
            "STORAGE_JOBS_S3_ACCESS_KEY_ID": self.s3.access_key,
            "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": self.s3.secret_key,
            "STORAGE_JOBS_UPLOAD_ROOTS": str(self.uploads),
            "STORAGE_JOBS_RETRY_BASE_DELAY": "0.2",
            "STORAGE_JOBS_LOG_FORMAT": "json",
        }

    def settings(self) -> Settings:
        """Producer settings for the embedded stack."""
        return Settings(
            redis_url=self.redis.url,
            queue_name="dev",
            upload_roots=[self.uploads],
        )

    def _start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.workdir / "worker.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "storage_jobs", "worker"],
            env={**os.environ, **self.worker_env()},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None or worker.poll() is not None:
            return
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(5)


async def run_demo(stack: DevStack, console: Console) -> Table:
    """Runs one job of every kind (and a bulk delete with a retried partial failure)."""
    assert stack.proxy is not None
    table = Table(title="storage-jobs demo", show_lines=False)
    for column in ("job", "kind", "outcome", "details", "seconds"):
        table.add_column(column)
    settings = stack.settings()
    s3 = stack.s3.client()
    for bucket in (DEMO_BUCKET, ARCHIVE_BUCKET):
        with contextlib.suppress(Exception):
            s3.create_bucket(Bucket=bucket)
    big = stack.uploads / "report.bin"
    big.write_bytes(os.urandom(1024 * 1024) * 20)

    async with StorageJobsClient(settings=settings) as jobs:
        with console.status("waiting for the worker's first heartbeat"):
            while not await jobs.redis.zcard(jobs.keys.workers):  # noqa: ASYNC110
                await asyncio.sleep(0.1)

        async def run(label: str, kind: str, job: Any, show: Any) -> None:
            started = time.monotonic()
            handle = await jobs.enqueue(job)
            try:
                result = await handle.result(timeout=120)
                outcome, details = "ok", show(result)
            except JobFailedError as exc:
                outcome, details = (
                    "[red]failed[/red]",
                    f"{exc.error_type} ({exc.code}), dead-lettered",
                )
            table.add_row(label, kind, outcome, details, f"{time.monotonic() - started:.2f}")

        def stored(r: Any) -> str:
            return f"{r.key}: {r.size:,} bytes, etag {r.etag[:12]}"

        await run(
            "upload bytes",
            "upload",
            UploadJob(bucket=DEMO_BUCKET, key="hello.txt", data=b"hello"),
            stored,
        )
        await run(
            "upload 20 MiB file",
            "upload",
            UploadJob(bucket=DEMO_BUCKET, key="report.bin", path=str(big)),
            stored,
        )
        copy = CopyJob(
            src_bucket=DEMO_BUCKET,
            src_key="report.bin",
            dst_bucket=ARCHIVE_BUCKET,
            dst_key="2026/report.bin",
            skip_if_identical=True,
        )
        await run(
            "copy to archive",
            "copy",
            copy,
            lambda r: f"-> {r.dst_bucket}/{r.dst_key}, skipped={r.skipped}",
        )
        await run(
            "copy again", "copy", copy, lambda r: f"identical destination, skipped={r.skipped}"
        )

        keys = [f"tmp/{i:04d}.txt" for i in range(1200)]
        with console.status("uploading 1,200 small objects through the queue"):
            handles = await jobs.enqueue_many(
                [UploadJob(bucket=DEMO_BUCKET, key=k, data=b"x") for k in keys]
            )
            await asyncio.gather(*(h.result(timeout=120) for h in handles))
        table.add_row(
            "upload x1,200", "upload", "ok", "enqueue_many: one round trip per 1,000 jobs", ""
        )
        await run(
            "migrate tmp/ to archive",
            "migrate",
            MigrateJob(
                src_bucket=DEMO_BUCKET,
                src_prefix="tmp/",
                dst_bucket=ARCHIVE_BUCKET,
                dst_prefix="tmp/",
                batch_size=100,
            ),
            lambda r: f"{r.copied:,} copied in batches of 100, report {r.report_key}",
        )
        flaky = {keys[5]: "InternalError", keys[600]: "SlowDown", keys[1100]: "InternalError"}
        stack.proxy.rules.delete_errors = {**flaky, keys[42]: "AccessDenied"}
        stack.proxy.rules.delete_error_times = dict.fromkeys(flaky, 1)
        await run(
            "bulk delete",
            "delete",
            DeleteJob(bucket=DEMO_BUCKET, keys=keys),
            lambda r: (
                f"{r.deleted_count:,} deleted in {r.attempts} rounds "
                "(3 keys failed once, retried alone); "
                f"failed: {', '.join(f'{f.key} {f.code}' for f in r.failed) or 'none'}"
            ),
        )
        await run(
            "copy missing key",
            "copy",
            CopyJob(src_bucket=DEMO_BUCKET, src_key="nope", dst_key="x"),
            str,
        )
    return table


def dev(exit_after_demo: bool) -> None:
    """Entry point of ``storage-jobs dev``."""
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="storage-jobs-dev-"))
    stack = DevStack(workdir, console)
    try:
        with stack.running():
            console.print(f"Redis  [bold]{stack.redis.url}[/bold]")
            console.print(f"S3     [bold]{stack.s3.endpoint_url}[/bold]")
            console.print(f"worker log {workdir / 'worker.log'}")
            if stack.dashboard is not None:
                console.print(f"dashboard [bold]{stack.dashboard.url}[/bold]")
            console.print(asyncio.run(run_demo(stack, console)))
            if exit_after_demo:
                return
            console.print(
                "The stack keeps running: enqueue with STORAGE_JOBS_REDIS_URL="
                f"{stack.redis.url} STORAGE_JOBS_QUEUE_NAME=dev. Press Ctrl-C to stop."
            )
            _wait_forever()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_forever() -> None:
    while True:
        time.sleep(3600)
