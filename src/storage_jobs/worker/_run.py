"""Running a claimed job: arq's ``Worker.run_job`` with the payload and attempt from the claim.

arq's ``run_job`` starts every job with a pipeline of its own (``GET`` the payload, ``INCR`` and
``EXPIRE`` the attempt counter: a round trip per job). The batched claim (``_leases``) has done
all three for the whole batch, so this is arq 0.28's ``run_job`` from that point on, unchanged
in what it does: an expired or undecodable payload, an unknown function and ``max_tries``
fail the job through ``finish_failed_job``; the job runs under its timeout with ``job_id``,
``job_try``, ``enqueue_time`` and ``score`` in its ctx and the ``on_job_start``, ``on_job_end``
and ``after_job_end`` hooks; ``Retry`` re-queues it with its deferral, a cancel (a lost lease,
shutdown) re-queues it at once, an abort fails it; the result is serialized with the worker's
serializer and kept as ``keep_result``/``keep_result_forever`` say; ``finish_job`` stores it.
``tests/worker/test_arq_contract.py`` holds arq's ``run_job`` to the shape this was copied from.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq.constants import abort_jobs_ss, keep_cronjob_progress, retry_key_prefix
from arq.jobs import SerializationError, deserialize_job_raw, serialize_result
from arq.utils import args_to_string, ms_to_datetime, timestamp_ms, truncate
from arq.worker import JobExecutionFailed, Retry, RetryJob, Worker

from ..queue import peek_priority
from ._leases import Claimed

__all__ = ["run_claimed"]

logger = logging.getLogger("arq.worker")  # arq's own lines, as arq's run_job logs them
_NO_RESULT = object()


async def run_claimed(worker: Worker, claimed: Claimed) -> None:
    """Runs one claimed job to its finish, as arq's ``run_job`` does after its start pipeline."""
    job_id, score, job_try = claimed.job_id, claimed.score, claimed.job_try
    start_ms = timestamp_ms()
    abort_job = False
    if worker.allow_abort_jobs:
        abort_job = bool(await worker.pool.zrem(abort_jobs_ss, job_id))

    function_name, enqueue_time_ms = "<unknown>", 0
    args: tuple[Any, ...] = ()
    kwargs: dict[Any, Any] = {}

    async def job_failed(exc: BaseException) -> None:
        worker.jobs_failed += 1
        result_data_ = serialize_result(
            function=function_name,
            args=args,
            kwargs=kwargs,
            job_try=job_try,
            enqueue_time_ms=enqueue_time_ms,
            success=False,
            result=exc,
            start_ms=start_ms,
            finished_ms=timestamp_ms(),
            ref=f"{job_id}:{function_name}",
            serializer=worker.job_serializer,
            queue_name=worker.queue_name,
            job_id=job_id,
        )
        await asyncio.shield(worker.finish_failed_job(job_id, result_data_))

    if not claimed.payload:
        logger.warning("job %s expired", job_id)
        return await job_failed(JobExecutionFailed("job expired"))
    try:
        function_name, args, kwargs, enqueue_job_try, enqueue_time_ms = deserialize_job_raw(
            claimed.payload, deserializer=worker.job_deserializer
        )
    except SerializationError as e:
        logger.exception("deserializing job %s failed", job_id)
        return await job_failed(e)

    if abort_job:
        t = (timestamp_ms() - enqueue_time_ms) / 1000
        logger.info("%6.2fs ⊘ %s:%s aborted before start", t, job_id, function_name)
        return await job_failed(asyncio.CancelledError())

    try:
        function = worker.functions[function_name]
    except KeyError:
        logger.warning("job %s, function %r not found", job_id, function_name)
        return await job_failed(JobExecutionFailed(f"function {function_name!r} not found"))

    keep_in_progress: float | None
    if hasattr(function, "next_run"):  # a cron job
        ref = function_name
        keep_in_progress = keep_cronjob_progress
    else:
        ref = f"{job_id}:{function_name}"
        keep_in_progress = None

    if enqueue_job_try and enqueue_job_try > job_try:
        job_try = enqueue_job_try
        await worker.pool.setex(retry_key_prefix + job_id, 88400, str(job_try))

    max_tries = worker.max_tries if function.max_tries is None else function.max_tries
    if job_try > max_tries:
        t = (timestamp_ms() - enqueue_time_ms) / 1000
        logger.warning("%6.2fs ! %s max retries %d exceeded", t, ref, max_tries)
        worker.jobs_failed += 1
        result_data = serialize_result(
            function_name,
            args,
            kwargs,
            job_try,
            enqueue_time_ms,
            False,
            JobExecutionFailed(f"max {max_tries} retries exceeded"),
            start_ms,
            timestamp_ms(),
            ref,
            worker.queue_name,
            job_id=job_id,
            serializer=worker.job_serializer,
        )
        return await asyncio.shield(worker.finish_failed_job(job_id, result_data))

    result: Any = _NO_RESULT
    exc_extra = None
    finish = False
    timeout_s = worker.job_timeout_s if function.timeout_s is None else function.timeout_s
    incr_score: int | None = None
    job_ctx = {
        "job_id": job_id,
        "job_try": job_try,
        "enqueue_time": ms_to_datetime(enqueue_time_ms),
        "score": score,
        "lane": claimed.lane,
        # A prefix job's batches go to this lane (None: bulk); small envelopes only carry it.
        "priority": peek_priority(claimed.payload),
    }
    ctx = {**worker.ctx, **job_ctx}

    if worker.on_job_start:
        await worker.on_job_start(ctx)

    start_ms = timestamp_ms()
    success = False
    try:
        s = args_to_string(args, kwargs)
        extra = f" try={job_try}" if job_try > 1 else ""
        if (start_ms - score) > 1200:
            extra += f" delayed={(start_ms - score) / 1000:0.2f}s"
        logger.info("%6.2fs → %s(%s)%s", (start_ms - enqueue_time_ms) / 1000, ref, s, extra)
        worker.job_tasks[job_id] = task = worker.loop.create_task(
            function.coroutine(ctx, *args, **kwargs)
        )
        try:
            result = await asyncio.wait_for(task, timeout_s)
        except (Exception, asyncio.CancelledError) as e:
            exc_extra = getattr(e, "extra", None)
            if callable(exc_extra):
                exc_extra = exc_extra()
            raise
        else:
            result_str = "" if result is None or not worker.log_results else truncate(repr(result))
        finally:
            del worker.job_tasks[job_id]
    except (Exception, asyncio.CancelledError) as e:
        finished_ms = timestamp_ms()
        t = (finished_ms - start_ms) / 1000
        if worker.retry_jobs and isinstance(e, Retry):
            incr_score = e.defer_score
            logger.info("%6.2fs ↻ %s retrying job in %0.2fs", t, ref, (e.defer_score or 0) / 1000)
            if e.defer_score:
                incr_score = e.defer_score + (timestamp_ms() - score)
            worker.jobs_retried += 1
        elif job_id in worker.aborting_tasks and isinstance(e, asyncio.CancelledError):
            logger.info("%6.2fs ⊘ %s aborted", t, ref)
            result = e
            finish = True
            worker.aborting_tasks.remove(job_id)
            worker.jobs_failed += 1
        elif worker.retry_jobs and isinstance(e, asyncio.CancelledError | RetryJob):
            logger.info("%6.2fs ↻ %s cancelled, will be run again", t, ref)
            worker.jobs_retried += 1
        else:
            logger.exception(
                "%6.2fs ! %s failed, %s: %s",
                t,
                ref,
                e.__class__.__name__,
                e,
                extra={"extra": exc_extra},
            )
            result = e
            finish = True
            worker.jobs_failed += 1
    else:
        success = True
        finished_ms = timestamp_ms()
        logger.info("%6.2fs ← %s ● %s", (finished_ms - start_ms) / 1000, ref, result_str)
        finish = True
        worker.jobs_complete += 1

    keep_result_forever = (
        worker.keep_result_forever
        if function.keep_result_forever is None
        else function.keep_result_forever
    )
    result_timeout_s = (
        worker.keep_result_s if function.keep_result_s is None else function.keep_result_s
    )
    result_data = None
    if result is not _NO_RESULT and (keep_result_forever or result_timeout_s > 0):
        result_data = serialize_result(
            function_name,
            args,
            kwargs,
            job_try,
            enqueue_time_ms,
            success,
            result,
            start_ms,
            finished_ms,
            ref,
            worker.queue_name,
            job_id=job_id,
            serializer=worker.job_serializer,
        )

    if worker.on_job_end:
        await worker.on_job_end(ctx)

    await asyncio.shield(
        worker.finish_job(
            job_id,
            finish,
            result_data,
            result_timeout_s,
            keep_result_forever,
            incr_score,
            keep_in_progress,
        )
    )

    if worker.after_job_end:
        await worker.after_job_end(ctx)
    return None
