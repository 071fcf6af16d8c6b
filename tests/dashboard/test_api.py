"""The JSON API: each answer validates against the model (and JSON schema) it declares."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import BaseModel

from storage_jobs.client import StorageJobsClient
from storage_jobs.dashboard import (
    DeadLetterDetail,
    DeadLetterPage,
    JobDetail,
    JobPage,
    Overview,
    PrefixJobPage,
    WorkersPage,
)
from storage_jobs.jobs import UploadJob
from storage_jobs.queue import DeadLetterStore

from .conftest import DashboardServer

pytestmark = pytest.mark.integration


async def test_a_page_of_jobs_matches_its_declared_schema(
    jobs: StorageJobsClient, bucket: str, start_dashboard: Callable[..., DashboardServer]
) -> None:
    """Three deferred jobs, paged two at a time: both pages validate and hold exactly them."""
    handles = await jobs.enqueue_many(
        [UploadJob(bucket=bucket, key=f"k{i}", data=b"x") for i in range(3)], defer_by=3600
    )
    server = start_dashboard()
    async with httpx.AsyncClient(base_url=server.url) as http:
        schema = (await http.get("/api/schema/JobPage")).json()
        assert schema == JobPage.model_json_schema()
        first = JobPage.model_validate_json(
            (await http.get("/api/jobs?status=deferred&limit=2")).text, strict=False
        )
        assert first.total == 3 and len(first.rows) == 2 and first.next_offset == 2
        second = JobPage.model_validate_json(
            (await http.get("/api/jobs?status=deferred&limit=2&offset=2")).text
        )
        assert second.next_offset is None
        listed = [row.job_id for row in first.rows + second.rows]
        assert sorted(listed) == sorted(h.job_id for h in handles)
        assert {row.kind for row in first.rows + second.rows} == {"upload"}
        filtered = JobPage.model_validate_json(
            (await http.get("/api/jobs?status=deferred&kind=copy")).text
        )
        assert filtered.rows == [] and filtered.kind_window == 3
        assert (await http.get("/api/jobs?status=nope")).status_code == 400


async def test_every_answer_validates_against_its_model(
    jobs: StorageJobsClient, bucket: str, start_dashboard: Callable[..., DashboardServer]
) -> None:
    handle = await jobs.enqueue(UploadJob(bucket=bucket, key="k", data=b"x"))
    dead = f"{jobs.settings.queue_name}-dead"
    await DeadLetterStore(jobs.redis, jobs.settings.queue_name).add(
        job_id=dead,
        function="storage_jobs.copy",
        raw_payload=b"\x80pickle",
        error_type="InvalidPayload",
        message="not JSON",
    )
    server = start_dashboard()
    answers: dict[str, type[BaseModel]] = {
        "/api/overview": Overview,
        "/api/jobs": JobPage,
        f"/api/jobs/{handle.job_id}": JobDetail,
        "/api/migrations": PrefixJobPage,
        "/api/dead-letters": DeadLetterPage,
        f"/api/dead-letters/{dead}": DeadLetterDetail,
        "/api/workers": WorkersPage,
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path, model in answers.items():
            answer = await http.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"] == "application/json", path
            model.model_validate_json(answer.text)
        letter = DeadLetterDetail.model_validate_json(
            (await http.get(f"/api/dead-letters/{dead}")).text
        )
        assert "binary payload" in str(letter.payload)
        assert (await http.get("/api/jobs/no-such-job")).status_code == 404
