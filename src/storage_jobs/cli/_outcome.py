"""Waiting for a job and printing its outcome (``result``, ``enqueue --wait``, ``migrate``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rich.table import Table

from ..client import JobCancelledError, JobExpiredError, JobFailedError, JobHandle, JobStatus
from ..queue import ErrorRecord
from ._exit_codes import EXIT_FAILED, EXIT_NOT_READY, EXIT_OK
from ._output import Output, dump, fields_table

if TYPE_CHECKING:
    pass

__all__ = ["print_outcome", "wait_for"]

F = TypeVar("F", bound=Callable[..., Any])

_MAX_FAILED_ROWS = 50


async def wait_for(handle: JobHandle, wait: float) -> tuple[int, dict[str, Any]]:
    """Waits up to ``wait`` seconds for a job; returns ``(exit code, JSON-ready outcome)``."""
    try:
        value = await handle.result(timeout=wait)
    except JobFailedError as exc:
        error = ErrorRecord(error_type=exc.error_type, code=exc.code, message=exc.message)
        return EXIT_FAILED, _failed(handle.job_id, error)
    except JobExpiredError:
        return EXIT_FAILED, {"job_id": handle.job_id, "status": "expired"}
    except JobCancelledError as exc:
        return EXIT_FAILED, {
            "job_id": handle.job_id,
            "status": "cancelled",
            "progress": exc.progress,
        }
    except TimeoutError:
        status = await handle.status()
        letter = None
        if status == JobStatus.FAILED:
            # Dead-lettered, and arq is about to finish it: the dead letter has the error.
            letter = await handle.queue.dead_letters.get(handle.job_id)
        if letter is None:
            return EXIT_NOT_READY, {"job_id": handle.job_id, "status": status.value}
        error = ErrorRecord(error_type=letter.error_type, code=letter.code, message=letter.message)
        return EXIT_FAILED, _failed(handle.job_id, error)
    return EXIT_OK, {"job_id": handle.job_id, "status": "complete", "result": dump(value)}


def _failed(job_id: str, error: ErrorRecord) -> dict[str, Any]:
    return {"job_id": job_id, "status": "failed", "error": error.as_json()}


def print_outcome(out: Output, outcome: dict[str, Any]) -> None:
    """A job's result as tables, its failure or its state as one line."""
    job_id, status = outcome["job_id"], outcome["status"]
    if status == "complete":
        value = outcome.get("result")
        if not isinstance(value, dict):
            out.table(fields_table(f"job {job_id}: complete", {"result": value}))
            return
        failed = value.get("failed")
        summary = {k: v for k, v in value.items() if k != "failed"}
        if isinstance(failed, list):
            summary["failed"] = len(failed)
        out.table(fields_table(f"job {job_id}: complete", summary))
        if isinstance(failed, list) and failed:
            table = Table(title="keys not deleted", title_justify="left")
            for column in ("key", "code", "message"):
                table.add_column(column, overflow="fold")
            for item in failed[:_MAX_FAILED_ROWS]:
                table.add_row(str(item.get("key")), str(item.get("code")), item.get("message", ""))
            out.table(table)
            if len(failed) > _MAX_FAILED_ROWS:
                out.line(f"... and {len(failed) - _MAX_FAILED_ROWS} more (see --json)")
    elif status == "failed":
        error = outcome.get("error") or {}
        code = f" [{error['code']}]" if error.get("code") else ""
        out.line(
            f"job {job_id} failed: {error.get('error_type', 'JobFailed')}{code}: "
            f"{error.get('message', '')}"
        )
    elif status == JobStatus.CANCELLED.value:
        progress = outcome.get("progress") or {}
        summary = {k: len(v) if isinstance(v, list) else v for k, v in progress.items()}
        out.table(fields_table(f"job {job_id}: cancelled", summary or {"progress": "never ran"}))
    elif status == JobStatus.NOT_FOUND.value:
        out.line(f"job {job_id}: not found (never enqueued, or its result expired)")
    else:
        out.line(f"job {job_id}: not finished ({status})")
