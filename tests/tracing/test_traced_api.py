"""The HTTP enqueue API honours a producer's ``traceparent`` header."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from storage_jobs.dashboard import create_app
from storage_jobs.settings import Settings
from tests.fixtures_e2e import wait_until
from tests.workers import StartInProcess

from .conftest import named, of_trace, parent_of

pytestmark = pytest.mark.integration

TOKEN = "trace-producer-token-0123"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


async def test_a_traceparent_header_is_the_enqueues_parent(
    spans: InMemorySpanExporter,
    start_in_process: StartInProcess,
    settings: Settings,
    bucket: str,
) -> None:
    """POST /api/v1/jobs with ``traceparent``: the enqueue and the job's run join that trace."""
    await start_in_process(STORAGE_JOBS_TRACING="true")
    app = create_app(
        Settings(**{**settings.model_dump(), "tracing": True, "producer_tokens": {"web": TOKEN}})
    )
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
        "tracestate": "vendor=abc",
    }
    job = {"kind": "upload", "bucket": bucket, "key": "api.txt", "data": "aGk="}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        answer = await http.post("/api/v1/jobs", json=job, headers=headers)
        assert answer.status_code == 202, answer.text
        job_id = answer.json()["job_id"]

        async def done() -> bool:
            state = await http.get(f"/api/v1/jobs/{job_id}", headers=headers)
            return bool(state.json()["status"] == "complete")

        await wait_until(done, timeout=30)
    await app.state.dashboard.close()

    async def job_span_ended() -> bool:
        return bool(named(of_trace(spans, int(TRACE_ID, 16)), "process upload"))

    await wait_until(job_span_ended, timeout=30)
    mine = of_trace(spans, int(TRACE_ID, 16))
    (send,) = named(mine, f"send {settings.queue_name}")
    (run,) = named(mine, "process upload")
    assert send.parent is not None and send.parent.span_id == int(PARENT_ID, 16)
    assert send.context is not None and send.context.trace_state.to_header() == "vendor=abc"
    assert parent_of(run, mine) is send
    assert named(mine, "S3.PutObject")[0].parent == run.context
