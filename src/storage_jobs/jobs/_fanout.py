"""The coordinator of a prefix job: list page by page, enqueue a batch per page, wait, report.

Only one page is in memory at a time. The resume cursor moves after a page's batch job is
enqueued under an id derived from the page number, so a coordinator that crashes and re-runs
re-enqueues at most one batch, which the queue de-duplicates.

Operator control: between pages the coordinator waits while its job is paused (its batches are
parked by the queue meanwhile) and stops when it is cancelled. A cancel then settles: every
batch not finished is cancelled (queued ones never run, running ones stop at a safe point), the
coordinator waits until each has a result, writes the report of what was done and leaves
progress ``cancelled``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from ..errors import FailureThresholdError, StorageJobsError
from ..storage import StorageClient
from ._batch_ids import batch_job_id
from ._context import JobContext
from ._job_control import JobCancelled, JobWaiting
from ._prefix_models import ObjectRef
from ._prefix_progress import MigrationProgress
from ._report import report_line
from ._state import ProgressStore

__all__ = [
    "FanOut",
    "Page",
    "PageSource",
    "batch_job_id",
    "listing_pages",
    "run_fan_out",
    "version_pages",
]


@dataclass(frozen=True)
class Page:
    """One page of keys for one batch job.

    Attributes:
        objects: The objects to work on.
        cursor: Where a resumed coordinator starts after this page (a key, or a manifest
            position).
        rejected: Report lines of manifest lines that named no usable key.
    """

    objects: list[ObjectRef]
    cursor: str
    rejected: list[str] = field(default_factory=list)


PageSource = Callable[[str | None], AsyncIterator[Page]]
"""``cursor -> pages after it``: a listing or a manifest."""


def listing_pages(storage: StorageClient, bucket: str, prefix: str, page_size: int) -> PageSource:
    """The pages of a listing, resumable after a key."""

    async def pages(cursor: str | None) -> AsyncIterator[Page]:
        async for page in storage.iter_pages(
            bucket=bucket, prefix=prefix, page_size=page_size, start_after=cursor
        ):
            objects = [
                ObjectRef(
                    key=o.key,
                    size=o.size,
                    etag=o.etag,
                    last_modified=o.last_modified,
                    storage_class=o.storage_class,
                )
                for o in page
            ]
            yield Page(objects=objects, cursor=page[-1].key)

    return pages


def version_pages(storage: StorageClient, bucket: str, prefix: str, page_size: int) -> PageSource:
    """The pages of a versions listing, each holding whole key histories (newest first).

    A key whose history runs on past a listing page is carried into the next page, so one
    batch gets all of a key's versions and can copy them in order; the cursor is the last
    complete key.
    """

    async def pages(cursor: str | None) -> AsyncIterator[Page]:
        carry: list[ObjectRef] = []
        async for page in storage.iter_version_pages(
            bucket=bucket, prefix=prefix, page_size=page_size, key_marker=cursor
        ):
            refs = carry + [
                ObjectRef(
                    key=v.key,
                    size=v.size,
                    etag=v.etag,
                    last_modified=v.last_modified,
                    version_id=v.version_id,
                    delete_marker=v.is_delete_marker,
                )
                for v in page
            ]
            last = refs[-1].key
            complete = [r for r in refs if r.key != last]
            carry = [r for r in refs if r.key == last]
            if complete:
                yield Page(objects=complete, cursor=complete[-1].key)
        if carry:
            yield Page(objects=carry, cursor=carry[-1].key)

    return pages


_POLL = 0.25
_REAP_EVERY = 5.0
_LOG_EVERY = 10.0


@dataclass(frozen=True)
class FanOut:
    """What a coordinator lists, and the batch job each page becomes.

    Attributes:
        pages: The listing or manifest to read pages from.
        bucket: The bucket the keys are in (for report lines of a batch that failed whole).
        make_batch: ``(batch number, page) -> batch job``.
        batch_keys: ``batch job -> (report bucket, keys)``, to report a batch that failed for good.
        report_bucket: Where the completion report goes.
        report_name: The report's file name (under the configured report prefix).
        after_batches: Runs once every batch finished, before the report is written (a sync's
            deletes, a verification's extra keys); a StorageJobsError it raises fails the job
            after the report is written.
        threshold: ``(max failure ratio, min tasks)`` the batches check as they record keys.
    """

    pages: PageSource
    bucket: str
    make_batch: Callable[[int, Page], BaseModel]
    batch_keys: Callable[[str], tuple[str, list[str]]]
    report_bucket: str
    report_name: str
    after_batches: Callable[[MigrationProgress], Awaitable[None]] | None = None
    threshold: tuple[float, int] | None = None


async def run_fan_out(ctx: JobContext, store: ProgressStore, fan: FanOut) -> MigrationProgress:
    """Lists (resuming from the cursor), enqueues batches, waits for them, writes the report."""
    if ctx.enqueue is None:
        raise RuntimeError("prefix jobs need a worker that can enqueue batch jobs")
    if await store.get("listing_done") != "1":
        cursor = await store.get("cursor")
        pages = int(await store.get("pages") or 0)
        if cursor:
            ctx.log.info("prefix.resume", after_key=cursor, pages=pages)
        if await _hold(ctx, store):
            await _settle_cancel(ctx, store, fan)
        async for page in fan.pages(cursor):
            if await store.stop_reason():
                break
            pages += 1
            job = fan.make_batch(pages, page)
            await ctx.enqueue([(job, batch_job_id(store.migration_id, pages))])
            await store.page_listed(pages, len(page.objects), page.cursor)
            if await _hold(ctx, store):
                await _settle_cancel(ctx, store, fan)
        await store.listing_finished()
    progress = await _wait_for_batches(ctx, store, fan)
    failure: StorageJobsError | None = None
    if progress.stopped:
        # A stopped job never runs its final phase (a sync's deletes least of all).
        failure = await _stopped(store, progress, fan.threshold)
    elif fan.after_batches is not None:
        try:
            await fan.after_batches(progress)
        except StorageJobsError as exc:
            failure = exc
        progress = await store.read()
    report_key = f"{ctx.report_prefix}{fan.report_name}"
    await _write_report(ctx, store, fan.report_bucket, report_key)
    status = "done"
    if progress.stopped:
        status = "failed_threshold" if isinstance(failure, FailureThresholdError) else "stopped"
    await store.finish(fan.report_bucket, report_key, status=status)
    if failure is not None:
        raise failure
    return progress.model_copy(
        update={"status": "done", "report_bucket": fan.report_bucket, "report_key": report_key}
    )


async def _hold(ctx: JobContext, store: ProgressStore) -> bool:
    """Waits while the prefix job is paused; True if it is cancelled."""
    if await ctx.control.cancelled():
        return True
    if not await ctx.control.paused():
        return False
    ctx.log.info("migration.paused")
    await store.set_status("paused")
    while await ctx.control.paused():
        if await ctx.control.cancelled():
            return True
        await asyncio.sleep(_POLL)
    ctx.log.info("migration.resumed")
    await store.set_status("running")
    return False


async def _settle_cancel(ctx: JobContext, store: ProgressStore, fan: FanOut) -> None:
    """Cancels every unfinished batch, waits for each to stop, reports, and raises.

    Raises:
        JobCancelled: Always, with the progress as it stands (the report included).
    """
    pages = int(await store.get("pages") or 0)
    finished = await store.finished_batches()
    ids = [batch_job_id(store.migration_id, n) for n in range(1, pages + 1) if n not in finished]
    ctx.log.info("migration.cancelling", batches=len(ids))
    await ctx.control.cancel(ids)
    last_log = time.monotonic()
    # Running batches stop at their next safe point; queued ones are finished already.
    while ids := await ctx.control.unfinished(ids):
        if time.monotonic() - last_log >= _LOG_EVERY:
            last_log = time.monotonic()
            ctx.log.info("migration.cancelling", batches=len(ids))
        await asyncio.sleep(_POLL)
    await _reap_failed_batches(ctx, store, fan, pages)
    report_key = f"{ctx.report_prefix}{fan.report_name}"
    await _write_report(ctx, store, fan.report_bucket, report_key)
    await store.finish(fan.report_bucket, report_key, status="cancelled")
    progress = await store.read()
    ctx.log.info("migration.cancelled", listed=progress.listed, done=progress.done)
    raise JobCancelled(progress.model_dump(mode="json"))


async def _wait_for_batches(
    ctx: JobContext, store: ProgressStore, fan: FanOut
) -> MigrationProgress:
    started = last_reap = last_log = time.monotonic()
    while True:
        if await _hold(ctx, store):
            await _settle_cancel(ctx, store, fan)
        progress = await store.read()
        relay = ctx.relay_after_s
        if progress.restoring and relay is not None and time.monotonic() - started > relay:
            # Restores take hours: hand the wait on before the job timeout ends this run.
            raise JobWaiting(0.0, {"restoring": progress.restoring})
        # A stopping job waits only for the batches it enqueued, which skip what they have left.
        listed = progress.listing_done or progress.stopped is not None
        if listed and progress.batches_done >= progress.pages:
            return progress
        now = time.monotonic()
        if now - last_reap >= _REAP_EVERY:
            last_reap = now
            await _reap_failed_batches(ctx, store, fan, progress.pages)
        if now - last_log >= _LOG_EVERY:
            last_log = now
            ctx.log.info(
                "prefix.progress",
                listed=progress.listed,
                done=progress.done,
                skipped=progress.skipped,
                failed=progress.failed,
                batches=f"{progress.batches_done}/{progress.pages}",
            )
        await asyncio.sleep(_POLL)


async def _stopped(
    store: ProgressStore, progress: MigrationProgress, threshold: tuple[float, int] | None
) -> StorageJobsError:
    """Reports a stop (the failure threshold's, or another's); the rest counts as cancelled."""
    tasks = progress.done + progress.skipped + progress.failed
    error: StorageJobsError
    if progress.stopped == "failure_threshold" and threshold is not None:
        error = FailureThresholdError(progress.failed, tasks, threshold[0])
    else:
        error = StorageJobsError(f"stopped: {progress.stopped}")
    cancelled = max(progress.listed - progress.processed, 0)
    line = report_line(
        "", "", "stopped", "FailureThreshold", f"{error}; {cancelled} listed keys cancelled"
    )
    await store.record_step("stopped", counter="cancelled", count=cancelled, lines=[line])
    return error


async def _reap_failed_batches(
    ctx: JobContext, store: ProgressStore, fan: FanOut, pages: int
) -> None:
    """Reports the keys of batch jobs that failed for good, so the coordinator is not stuck."""
    if ctx.failed_job is None:
        return
    finished = await store.finished_batches()
    for batch in range(1, pages + 1):
        if batch in finished:
            continue
        failure = await ctx.failed_job(batch_job_id(store.migration_id, batch))
        if failure is None:
            continue
        if failure.cancelled:
            # Cancelled before it ran or part-way: what it did is recorded; it is over.
            await store.finish_batch(batch)
            continue
        lines: list[str] = []
        if failure.payload is not None:
            bucket, keys = fan.batch_keys(failure.payload)
            recorded = await store.recorded(batch, len(keys))
            lines = [
                report_line(bucket, key, "failed", failure.code, failure.message)
                for i, key in enumerate(keys)
                if i not in recorded
            ]
        else:
            lines = [
                report_line(
                    fan.bucket, "", "failed", failure.code, f"batch {batch}: {failure.message}"
                )
            ]
        await store.finish_batch(batch, failed=len(lines), lines=lines)
        ctx.log.error("prefix.batch_failed", batch=batch, code=failure.code, keys=len(lines))


async def _write_report(ctx: JobContext, store: ProgressStore, bucket: str, key: str) -> None:
    async def lines() -> AsyncIterator[bytes]:
        async for chunk in store.iter_records():
            yield b"".join(line + b"\n" for line in chunk)

    info = await ctx.storage.upload_stream(
        bucket=bucket, key=key, stream=lines(), content_type="application/x-ndjson"
    )
    ctx.log.info("prefix.report_written", report_bucket=bucket, report_key=key, bytes=info.size)
