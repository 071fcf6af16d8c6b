"""One job's detail and one dead letter's, built from a single read of what Redis holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..queue import JobStatus, QueueKeys
from ._answers import DeadLetterDetail, FailedKey, JobDetail, PrefixJobProgress, Unreadable
from ._letters import read_letter
from ._payload import shown_payload, shown_value
from ._progress_rows import control_flags, progress_row
from ._reads import kind_of, letter_row
from ._unreadable import UNREADABLE, cause_of, unreadable

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["MAX_FAILED_KEYS", "dead_letter_detail", "detail_bytes", "job_detail"]

MAX_FAILED_KEYS = 1000
"""Per-key failures of a delete shown at most (the total is given)."""

_PREFIX_KINDS = ("migrate", "delete_prefix")


def _failed_keys(value: Any) -> tuple[list[FailedKey], int]:
    failed = value.get("failed") if isinstance(value, dict) else None
    if not isinstance(failed, list):
        return [], 0
    rows = [
        FailedKey(
            key=str(f.get("key", "")),
            code=str(f.get("code", "")),
            message=str(f.get("message", ""))[:300],
        )
        for f in failed[:MAX_FAILED_KEYS]
        if isinstance(f, dict)
    ]
    return rows, len(failed)


def _payload_of(text: str | None, encoding: str = "utf-8") -> Any:
    """A payload fit to show, or a note saying why it cannot be (the rest of the job can)."""
    try:
        return shown_payload(text, encoding)
    except UNREADABLE as exc:
        return f"<unreadable payload: {cause_of(exc)}>"


def detail_bytes(max_payload_bytes: int) -> int:
    """Bytes of a job's envelope or result read at most: twice the payload cap, and room."""
    return 2 * max_payload_bytes + 64 * 1024


async def _too_large(queue: Queue, job_id: str, max_bytes: int) -> str | None:
    """Why a job is not read at all (a key too large or of the wrong type), else None."""
    async with queue.redis.pipeline(transaction=False) as pipe:
        pipe.strlen(QueueKeys.job(job_id))
        pipe.strlen(QueueKeys.result(job_id))
        sizes = await pipe.execute(raise_on_error=False)
    for size in sizes:
        if isinstance(size, Exception):
            return cause_of(size)
        if int(size) > max_bytes:
            return f"too large to read ({int(size):,} bytes)"
    return None


async def job_detail(queue: Queue, job_id: str, *, max_bytes: int) -> JobDetail | Unreadable | None:
    """Everything about a job, why it cannot be read, or None when Redis knows nothing of it.

    Args:
        queue: The queue.
        job_id: The job.
        max_bytes: Bytes of its envelope or result read at most (``detail_bytes``).
    """
    job_id = queue.job_id(job_id)  # a sharded queue's either spelling
    if why := await _too_large(queue, job_id, max_bytes):
        return Unreadable(id=job_id, cause=why)
    letter = await read_letter(queue, job_id)
    if letter.cause is not None:
        return Unreadable(id=job_id, cause=f"its dead letter: {letter.cause}")
    try:
        return await _job_detail(queue, job_id)
    except UNREADABLE as exc:
        return unreadable(job_id, exc)


async def _job_detail(queue: Queue, job_id: str) -> JobDetail | None:
    record = await queue.listings.job(job_id)
    if record.status == JobStatus.NOT_FOUND and record.payload is None:
        return None
    kind = kind_of(record.function)
    result = error_type = error_code = error_message = None
    failed: list[FailedKey] = []
    failed_total = 0
    if record.result is not None and record.result.success:
        value = record.result.value
        failed, failed_total = _failed_keys(value)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "failed"}
        result = shown_value(value)
    elif record.result is not None:
        error = record.result.error
        error_type, error_code, error_message = error.error_type, error.code, error.message
    elif record.dead_letter is not None:
        letter = record.dead_letter
        error_type, error_code, error_message = letter.error_type, letter.code, letter.message
    payload = _payload_of(record.payload)
    if payload is None and record.dead_letter is not None:
        letter = record.dead_letter
        payload = _payload_of(letter.payload, letter.payload_encoding)
    progress: PrefixJobProgress | None = None
    if kind in _PREFIX_KINDS:
        (flags,) = await control_flags(queue.redis, [job_id])
        progress = progress_row(await queue.progress(job_id).read(), flags=flags)
    return JobDetail(
        job_id=job_id,
        status=str(record.status),
        kind=kind,
        function=record.function,
        payload=payload,
        enqueued_at=record.enqueued_at,
        run_at=record.run_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        attempts=record.attempts,
        lease_holder=record.lease_holder,
        result=result,
        error_type=error_type,
        error_code=error_code,
        error_message=error_message,
        failed_keys=failed,
        failed_keys_total=failed_total,
        dead_letter=record.dead_letter is not None,
        progress=progress,
    )


async def dead_letter_detail(queue: Queue, job_id: str) -> DeadLetterDetail | Unreadable | None:
    """A dead letter with its payload fit to show, why it cannot be read, or None."""
    read = await read_letter(queue, job_id)
    if read.cause is not None:
        return Unreadable(id=job_id, cause=read.cause)
    letter = read.letter
    if letter is None:
        return None
    return DeadLetterDetail(
        letter=letter_row(letter),
        payload=_payload_of(letter.payload, letter.payload_encoding),
        payload_encoding=letter.payload_encoding,
        payload_truncated=letter.payload_truncated,
    )
