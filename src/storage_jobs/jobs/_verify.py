"""VerifyJob: compare a prefix with its copy, like ``rclone check``; report missing/extra/different.

The coordinator lists the source and fans out like a migration; each batch HEADs the
destination of its keys and decides by the strongest evidence both sides have, reading both
sides only where that evidence is missing; with ``checksum``, by that algorithm's checksum the
server holds or, where it holds none, by reading and hashing. After the
batches, one merge walk of both listings finds the destination's extra keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..storage import StorageClient, StorageError, StorageObjectNotFoundError
from ..storage._bulk import gather_or_cancel
from ._content_match import content_evidence, stored_checksums
from ._context import JobContext
from ._extraneous import iter_extraneous
from ._fanout import FanOut, Page, listing_pages, run_fan_out
from ._job_control import halt_error, halted
from ._migrate import source_for
from ._prefix_models import ObjectRef, VerifyBatchJob, VerifyJob
from ._prefix_progress import MigrationProgress
from ._prefix_results import BatchResult, VerifyResult
from ._readback import compare_by_reading, digest
from ._report import report_line
from ._retry import is_retryable

__all__ = ["run_verify", "run_verify_batch"]

_CONCURRENCY = 8
_EXTRA_CHUNK = 1000
_COUNTERS = {"matched": "done", "missing": "missing", "different": "different"}


async def run_verify(job: VerifyJob, ctx: JobContext) -> VerifyResult:
    """Runs the coordinator of a verification (the batches run as their own jobs)."""
    store = ctx.state.progress(ctx.job_id)
    await store.start("verify", False)
    source = await source_for(ctx, job.src_endpoint)
    report_bucket = ctx.report_bucket or job.dst_bucket

    def make_batch(number: int, page: Page) -> VerifyBatchJob:
        return VerifyBatchJob(migration_id=ctx.job_id, batch=number, spec=job, objects=page.objects)

    def batch_keys(payload: str) -> tuple[str, list[str]]:
        return job.src_bucket, [o.key for o in VerifyBatchJob.model_validate_json(payload).objects]

    async def extras(_: MigrationProgress) -> None:
        skip = ctx.report_prefix if report_bucket == job.dst_bucket else None
        chunk: list[str] = []
        async for obj in iter_extraneous(
            source,
            job.src_bucket,
            job.src_prefix,
            ctx.storage,
            job.dst_bucket,
            job.dst_prefix,
            job.object_filter(),
            skip_prefix=skip,
        ):
            chunk.append(report_line(job.dst_bucket, obj.key, "extra", size=obj.size))
            if len(chunk) == _EXTRA_CHUNK:
                await store.record_step(
                    f"extra:{obj.key}", counter="extra", count=len(chunk), lines=chunk
                )
                chunk = []
        if chunk:
            await store.record_step("extra:last", counter="extra", count=len(chunk), lines=chunk)

    progress = await run_fan_out(
        ctx,
        store,
        FanOut(
            pages=listing_pages(source, job.src_bucket, job.src_prefix, job.batch_size),
            bucket=job.src_bucket,
            make_batch=make_batch,
            batch_keys=batch_keys,
            report_bucket=report_bucket,
            report_name=f"verify/{ctx.job_id}.jsonl",
            after_batches=extras,
        ),
    )
    return VerifyResult(
        migration_id=ctx.job_id,
        listed=progress.listed,
        matched=progress.done,
        missing=progress.missing,
        extra=progress.extra,
        different=progress.different,
        failed=progress.failed,
        filtered=progress.filtered,
        report_bucket=progress.report_bucket,
        report_key=progress.report_key,
    )


async def run_verify_batch(job: VerifyBatchJob, ctx: JobContext) -> BatchResult:
    """Compares one page of keys with the destination, recording each key's outcome once."""
    spec = job.spec
    store = ctx.state.progress(job.migration_id)
    recorded = await store.recorded(job.batch, len(job.objects))
    source = await source_for(ctx, spec.src_endpoint)
    keep = spec.object_filter()
    slots = asyncio.Semaphore(_CONCURRENCY)
    counts = dict.fromkeys(("done", "failed", "filtered", "missing", "different"), 0)
    stopped: str | None = None  # ``cancelled`` or ``paused``, once seen

    async def one(index: int, obj: ObjectRef) -> None:
        nonlocal stopped
        relative = obj.key[len(spec.src_prefix) :]
        dst_key = spec.dst_prefix + relative
        if not keep.selected(relative, obj.size, obj.last_modified, obj.storage_class):
            status, code, message = "filtered", None, ""
        else:
            async with slots:
                # A safe point, as a migration batch's: a cancel or pause stops it here.
                if stopped or (stopped := await halted(ctx.control)):
                    return
                status, code, message = await _check_one(ctx, source, spec, obj, dst_key)
        counter = _COUNTERS.get(status, status)
        line = ""
        if status not in ("matched", "filtered") or spec.report == "all":
            line = report_line(
                spec.dst_bucket, dst_key, status, code, message, src_key=obj.key, size=obj.size
            )
        if await store.record_key(job.batch, index, counter, 0, line):
            counts[counter] += 1

    await gather_or_cancel([one(i, obj) for i, obj in enumerate(job.objects) if i not in recorded])
    if stopped:
        raise halt_error(stopped, {"batch": job.batch, **counts})
    await store.finish_batch(job.batch)
    return BatchResult(
        of="verify",
        migration_id=job.migration_id,
        batch=job.batch,
        done=counts["done"],
        failed=counts["failed"],
        filtered=counts["filtered"],
        mismatch=counts["different"],
    )


async def _check_one(
    ctx: JobContext, source: StorageClient, spec: VerifyJob, obj: ObjectRef, dst_key: str
) -> tuple[str, str | None, str]:
    """Compares one key; returns (``matched|missing|different|failed``, error code, message)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            try:
                dst = await ctx.storage.head_object(bucket=spec.dst_bucket, key=dst_key)
            except StorageObjectNotFoundError as exc:
                if exc.key == dst_key:
                    return "missing", None, ""
                raise
            src: dict[str, Any] = {"size": obj.size, "etag": obj.etag, "metadata": {}}
            if spec.checksum is not None or stored_checksums(dst):
                src = await source.head_object(bucket=spec.src_bucket, key=obj.key)
            if spec.checksum is not None:
                # Proof, not claims: a checksum the server holds (it computed or checked it),
                # else the bytes read and hashed; ``sj-*`` metadata is copied, not proven.
                algorithm = spec.checksum
                src_sum = (src.get("checksums") or {}).get(algorithm) or (
                    await digest(source, spec.src_bucket, obj.key)
                ).of(algorithm)
                dst_sum = (dst.get("checksums") or {}).get(algorithm) or (
                    await digest(ctx.storage, spec.dst_bucket, dst_key)
                ).of(algorithm)
                same = src_sum == dst_sum
                why = f"{algorithm} {dst_sum[:16]} is not the source's {src_sum[:16]}"
            else:
                evidence = content_evidence(src, dst)
                if evidence is None:
                    problem = await compare_by_reading(
                        source,
                        spec.src_bucket,
                        obj.key,
                        obj.etag,
                        ctx.storage,
                        spec.dst_bucket,
                        dst_key,
                    )
                    same, why = problem is None, problem or ""
                else:
                    same = evidence
                    why = (
                        f"size {dst['size']} vs {src['size']}, etag {dst['etag']} vs {src['etag']}"
                    )
            return ("matched", None, "") if same else ("different", "ContentMismatch", why)
        except StorageError as exc:
            if is_retryable(exc) and ctx.object_retry.should_retry(attempt):
                await asyncio.sleep(ctx.object_retry.delay(attempt))
                continue
            return "failed", exc.code, exc.message
