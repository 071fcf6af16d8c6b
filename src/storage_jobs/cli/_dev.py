"""``storage-jobs dev``: Redis, SeaweedFS and a worker on this machine, and a demo of every job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from ..client import JobFailedError, StorageJobsClient
from ..devstack import FaultProxy, RedisServer, SeaweedFS
from ..devstack.processes import spawn, stop_process_group
from ..jobs import CopyJob, DeleteJob, DeleteResult, MigrateJob, UploadJob
from ..settings import Settings
from ._dev_dashboard import DevDashboard

__all__ = ["DevStack", "delete_details", "retry_rounds", "run_demo"]

T = TypeVar("T")

DEMO_BUCKET = "demo"
ARCHIVE_BUCKET = "demo-archive"


class DevStack:
    """Everything ``dev`` starts, stopped in reverse order (also on a stop signal).

    Each server and the worker also dies with this process if it is killed outright.
    """

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
            # Each stop is registered before its start (stops are idempotent): a signal in the
            # middle of a start still stops what was started.
            stack.callback(self.redis.stop)
            with self.console.status("starting Redis"):
                self.redis.start()
            # One second, not five: weed's graceful stop takes 15 s anyway, and its data is
            # deleted with the workdir right after.
            stack.callback(self.s3.stop, timeout=1)
            with self.console.status("starting SeaweedFS (S3)"):
                self.s3.start()
            # The worker talks to S3 through a fault proxy, so the demo can show a partial
            # DeleteObjects failure being retried.
            self.proxy = FaultProxy(
                self.s3.endpoint_url, credentials=(self.s3.access_key, self.s3.secret_key)
            )
            self.proxy.start_in_thread()
            stack.callback(self.proxy.stop_thread)
            self.uploads.mkdir(parents=True, exist_ok=True)
            stack.callback(self._stop_worker)
            with self.console.status("starting a worker"):
                self.worker = self._start_worker()
            self.dashboard = DevDashboard(self.settings())
            stack.callback(self.dashboard.stop)
            self.dashboard.start()
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
        with (self.workdir / "worker.log").open("ab") as log:
            return spawn(
                [sys.executable, "-m", "storage_jobs", "worker"],
                env={**os.environ, **self.worker_env()},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            stop_process_group(worker, timeout=15)


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
            "upload x1,200", "upload", "ok", "enqueue_many: one round trip per 6,000 jobs", ""
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
            lambda r: delete_details(r, retry_rounds(stack.workdir / "worker.log", DEMO_BUCKET)),
        )
        await run(
            "copy missing key",
            "copy",
            CopyJob(src_bucket=DEMO_BUCKET, src_key="nope", dst_key="x"),
            str,
        )
    return table


def retry_rounds(log: Path, bucket: str) -> list[tuple[int, int]]:
    """``(round, keys)`` of every ``delete.retry_round`` event the worker logged for ``bucket``.

    DeleteResult has no count of retried keys, so the demo reads them from the worker's own
    events; the demo runs a single DeleteJob on its bucket, so the bucket names that job.
    """
    rounds = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # not a structlog line (a warning printed by a library)
        if (
            isinstance(event, dict)
            and event.get("event") == "delete.retry_round"
            and event.get("bucket") == bucket
        ):
            rounds.append((int(event["round"]), int(event["keys"])))
    return rounds


def delete_details(result: DeleteResult, rounds: list[tuple[int, int]]) -> str:
    """The demo's bulk delete row: what the job's result and retry rounds say happened."""
    retried = ", ".join(
        f"{keys:,} key{'s' if keys != 1 else ''} in round {round_}" for round_, keys in rounds
    )
    failed = ", ".join(f"{f.key} {f.code}" for f in result.failed)
    return (
        f"{result.deleted_count:,} deleted in {result.attempts} "
        f"round{'s' if result.attempts != 1 else ''}; "
        f"retried alone: {retried or 'none'}; failed: {failed or 'none'}"
    )


class StopSignals:
    """The first SIGINT, SIGTERM or SIGHUP stops ``dev``; the ones after it change nothing.

    Outside the event loop a signal raises KeyboardInterrupt; inside it (the demo) it cancels
    the demo's task instead, since an exception raised at an arbitrary point of async code can
    be swallowed or cut a cleanup short (``run`` then raises KeyboardInterrupt). ``check``
    raises it too, in case some code swallowed either.

    The handlers are installed even where SIGINT was inherited as ignored (a background job of
    a non-interactive shell, some supervisors), where Python would not raise
    KeyboardInterrupt. An ignored SIGHUP is left ignored: that is what ``nohup`` asks for.
    Once stopping, further signals are ignored: ``uv run`` forwards signals, so a signal sent
    to the process group arrives twice, and a stop must not be cut short. The handlers stay
    until the process exits, which follows the stop.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.stopping = False
        self.received: signal.Signals | None = None
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._previous: dict[signal.Signals, Any] = {}
        for sig in self.SIGNALS:
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Puts the previous handlers back (for tests; ``dev`` keeps these until it exits)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.received = signal.Signals(signum)
        if self._task is not None:
            loop, task = self._task
            loop.call_soon_threadsafe(task.cancel)  # also wakes the loop up
            return
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raises KeyboardInterrupt if a stop signal came."""
        if self.received is not None:
            raise KeyboardInterrupt

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """``asyncio.run(coro)``; a stop signal cancels it and raises KeyboardInterrupt."""

        async def main() -> T:
            task = asyncio.current_task()
            assert task is not None
            self._task = (asyncio.get_running_loop(), task)
            try:
                return await coro
            finally:
                self._task = None

        try:
            result = asyncio.run(main())
        except asyncio.CancelledError:
            self.check()
            raise
        self.check()
        return result


def dev(exit_after_demo: bool) -> None:
    """Entry point of ``storage-jobs dev``: exits 0 after a stop signal, the stack stopped."""
    console = Console()
    signals = StopSignals()
    workdir: Path | None = None
    try:
        workdir = Path(tempfile.mkdtemp(prefix="storage-jobs-dev-"))
        stack = DevStack(workdir, console)
        with stack.running():
            try:
                signals.check()
                console.print(f"Redis  [bold]{stack.redis.url}[/bold]")
                console.print(f"S3     [bold]{stack.s3.endpoint_url}[/bold]")
                console.print(f"worker log {workdir / 'worker.log'}")
                if stack.dashboard is not None:
                    console.print(f"dashboard [bold]{stack.dashboard.url}[/bold]")
                console.print(signals.run(run_demo(stack, console)))
                if exit_after_demo:
                    return
                console.print(
                    "The stack keeps running: enqueue with STORAGE_JOBS_REDIS_URL="
                    f"{stack.redis.url} STORAGE_JOBS_QUEUE_NAME=dev. "
                    "Press Ctrl-C (or send SIGTERM or SIGHUP) to stop."
                )
                _wait_forever(signals)
            except KeyboardInterrupt:
                _say(console, f"{_name(signals.received)}: stopping")
            finally:
                signals.stopping = True  # from here on, a signal must not cut the stop short
    except KeyboardInterrupt:  # a signal while the stack was starting
        _say(console, f"{_name(signals.received)}: stopped")
    finally:
        signals.stopping = True
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _name(sig: signal.Signals | None) -> str:
    return sig.name if sig is not None else "interrupted"


def _say(console: Console, message: str) -> None:
    """Prints, unless the terminal is gone (after SIGHUP); then output goes to /dev/null.

    Otherwise the failed write would fail again when Python flushes stdout at exit, and the
    process would exit 120 instead of 0.
    """
    try:
        console.print(message)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(devnull, fd)
        os.close(devnull)


def _wait_forever(signals: StopSignals) -> None:
    while True:
        signals.check()
        time.sleep(1)
