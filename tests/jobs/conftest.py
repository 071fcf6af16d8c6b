"""Fixtures for the job tests: a fake Redis and a recording logger (moto comes from the root)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from storage_jobs.jobs import JobContext, JobLimits, RetryPolicy
from storage_jobs.queue import RedisJobState
from storage_jobs.storage import StorageClient


class RecordingLog:
    """A structlog-like logger that records ``(level, event, fields)`` tuples."""

    def __init__(
        self,
        events: list[tuple[str, str, dict[str, Any]]] | None = None,
        bound: dict[str, Any] | None = None,
    ) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = [] if events is None else events
        self.bound = bound or {}

    def bind(self, **fields: Any) -> RecordingLog:
        return RecordingLog(self.events, {**self.bound, **fields})

    def _record(self, level: str, event: str, fields: dict[str, Any]) -> None:
        self.events.append((level, event, {**self.bound, **fields}))

    def debug(self, event: str, **fields: Any) -> None:
        self._record("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._record("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._record("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._record("error", event, fields)

    def named(self, event: str) -> list[dict[str, Any]]:
        """The fields of every recorded event with this name."""
        return [fields for _, name, fields in self.events if name == event]


@pytest.fixture
def recording_log() -> RecordingLog:
    """A logger that keeps every event for assertions."""
    return RecordingLog()


def make_ctx(
    storage: StorageClient,
    redis: Any,
    log: RecordingLog,
    *,
    job_id: str | None = None,
    limits: JobLimits | None = None,
    retry: RetryPolicy | None = None,
) -> JobContext:
    """A JobContext built by hand, retrying without sleeping."""
    return JobContext(
        job_id=job_id or uuid.uuid4().hex,
        attempt=1,
        storage=storage,
        state=RedisJobState(redis),
        limits=limits or JobLimits(),
        retry=retry or RetryPolicy(max_attempts=3, base_delay=0.0),
        object_retry=retry or RetryPolicy(max_attempts=3, base_delay=0.0),
        log=log,
    )
