"""The HTTP enqueue API (``/api/v1/``) against real Redis, through ``create_app``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from storage_jobs.dashboard import create_app
from storage_jobs.jobs import CopyJob, DeleteJob, UploadJob
from storage_jobs.queue import JobStatus, Queue, QueueKeys, read_job
from storage_jobs.settings import Settings
from tests.workers import StartInProcess

from .conftest import TOKEN

pytestmark = pytest.mark.integration

WEB = "web-producer-token-0123"
BILLING = "billing-producer-token-45"
BEARER = {"Authorization": f"Bearer {WEB}"}
Http = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def copy(i: int = 0) -> CopyJob:
    return CopyJob(src_bucket="media", src_key=f"in/{i}", dst_key=f"out/{i}")


@pytest.fixture
def api_settings(e2e_redis_url: str, queue_name: str) -> Settings:
    """This test's queue, two producers and a dashboard token."""
    return Settings(
        redis_url=e2e_redis_url,
        queue_name=queue_name,
        producer_tokens={"web": WEB, "billing": BILLING},
        dashboard_token=TOKEN,
        dashboard_hosts=["app.test"],  # the test client's Host, on the dashboard's allow-list
    )


@pytest.fixture
async def queue(api_settings: Settings) -> AsyncIterator[Queue]:
    """The test's queue, to look at what the API wrote."""
    redis = Redis.from_url(api_settings.redis_url.get_secret_value())
    yield Queue(redis, api_settings.queue_name, result_ttl=api_settings.result_ttl)
    await redis.aclose()


@pytest.fixture
def http(api_settings: Settings) -> Http:
    """An HTTP client on ``create_app`` (in this event loop), settings overridable."""

    @asynccontextmanager
    async def client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(Settings(**{**api_settings.model_dump(), **overrides}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as c:
            yield c
        await app.state.dashboard.close()

    return client


async def stored(queue: Queue, job_id: str) -> CopyJob:
    """The job stored under an id."""
    record = await read_job(queue.redis, queue.name, job_id)
    assert record.payload is not None
    return CopyJob.model_validate_json(record.payload)


async def queued_ids(queue: Queue) -> list[str]:
    """Every job id waiting in any lane."""
    ids: list[str] = []
    for lane in QueueKeys(queue.name).lanes:
        ids += [i.decode() for i in await queue.redis.zrange(lane, 0, -1)]
    return ids


async def test_a_job_is_enqueued_as_posted_and_its_status_read(http: Http, queue: Queue) -> None:
    job = copy()
    async with http() as c:
        answer = await c.post("/api/v1/jobs", content=job.model_dump_json(), headers=BEARER)
        assert answer.status_code == 202
        body = answer.json()
        assert body["enqueued"] is True
        assert body["status_url"] == f"/api/v1/jobs/{body['job_id']}"
        assert await queued_ids(queue) == [body["job_id"]]
        assert await stored(queue, body["job_id"]) == job
        status = await c.get(body["status_url"], headers=BEARER)
        assert status.status_code == 200
        assert status.json() == {"job_id": body["job_id"], "status": "queued"}
        missing = await c.get("/api/v1/jobs/no-such-job", headers=BEARER)
        assert missing.status_code == 404 and missing.json()["status"] == "not_found"


async def test_priority_and_defer_by_reach_the_queue(http: Http, queue: Queue) -> None:
    async with http() as c:
        high = await c.post(
            "/api/v1/jobs?priority=high", content=copy().model_dump_json(), headers=BEARER
        )
        later = await c.post(
            "/api/v1/jobs?defer_by=3600", content=copy(1).model_dump_json(), headers=BEARER
        )
    keys = QueueKeys(queue.name)
    assert await queue.redis.zscore(keys.lane("high"), high.json()["job_id"]) is not None
    assert await queue.status(later.json()["job_id"]) == JobStatus.DEFERRED


async def test_expires_rides_in_the_job(http: Http, queue: Queue) -> None:
    """``expires`` reaches the envelope (the claim reads it there); not after defer_by: 422."""
    async with http() as c:
        answer = await c.post(
            "/api/v1/jobs?expires=60", content=copy().model_dump_json(), headers=BEARER
        )
        never = await c.post(
            "/api/v1/jobs?defer_by=60&expires=30", content=copy(1).model_dump_json(), headers=BEARER
        )
    raw = await queue.redis.get(QueueKeys.job(answer.json()["job_id"]))
    assert raw is not None and b',"x":' in raw[:320]
    assert never.status_code == 422 and "expires" in never.json()["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("priority=urgent", "priority"),
        ("defer_by=-1", "defer_by"),
        ("defer_by=inf", "defer_by"),
        ("expires=0", "expires"),
    ],
)
async def test_a_bad_parameter_is_named_and_nothing_enqueued(
    http: Http, queue: Queue, query: str, field: str
) -> None:
    async with http() as c:
        answer = await c.post(
            f"/api/v1/jobs?{query}", content=copy().model_dump_json(), headers=BEARER
        )
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["errors"]] == [[field]]
    assert await queued_ids(queue) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"kind": "copy", "src_bucket": "x", "src_key": "a", "dst_key": "b"}, ["src_bucket"]),
        ({"kind": "copy", "src_bucket": "media", "src_key": "a"}, ["dst_key"]),
        ({"kind": "teleport"}, ["kind"]),
        ({"kind": "migrate_batch", "parent_id": "x"}, ["kind"]),  # a prefix job's own batches
        ({"kind": "upload", "bucket": "media", "key": "k", "data": "not base64!"}, ["data"]),
    ],
)
async def test_an_invalid_job_is_refused_naming_its_field(
    http: Http, queue: Queue, body: dict[str, Any], loc: list[str]
) -> None:
    async with http() as c:
        answer = await c.post("/api/v1/jobs", content=json.dumps(body), headers=BEARER)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == loc
    assert await queued_ids(queue) == []


async def test_a_configured_limit_is_named_and_nothing_enqueued(http: Http, queue: Queue) -> None:
    job = DeleteJob(bucket="media", keys=["a", "b", "c"])
    async with http(max_delete_keys=2) as c:
        one = await c.post("/api/v1/jobs", content=job.model_dump_json(), headers=BEARER)
        batch = await c.post(
            "/api/v1/jobs:batch",
            content=json.dumps(
                {"jobs": [copy().model_dump(mode="json"), job.model_dump(mode="json")]}
            ),
            headers=BEARER,
        )
    assert one.status_code == 422 and one.json()["errors"][0]["loc"] == ["keys"]
    assert batch.status_code == 422 and batch.json()["errors"][0]["loc"] == ["jobs", 1, "keys"]
    assert await queued_ids(queue) == []


async def test_tokens_open_only_their_own_door(http: Http, queue: Queue) -> None:
    """No token, a wrong one, or the dashboard's: 401 here; a producer's: none of the dashboard."""
    body = copy().model_dump_json()
    async with http() as c:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": f"Bearer {TOKEN}"},
            {"Authorization": WEB},
        ):
            for answer in (
                await c.post("/api/v1/jobs", content=body, headers=headers),
                await c.post(
                    "/api/v1/jobs:batch", content=f'{{"jobs": [{body}]}}', headers=headers
                ),
                await c.get("/api/v1/jobs/some-id", headers=headers),
            ):
                assert answer.status_code == 401, headers
                assert answer.headers["www-authenticate"] == "Bearer"
        assert await queued_ids(queue) == []
        assert (await c.get("/api/overview", headers=BEARER)).status_code == 401
        page = await c.get("/", headers=BEARER)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        dashboard = {"Authorization": f"Bearer {TOKEN}"}
        assert (await c.get("/api/overview", headers=dashboard)).status_code == 200
        # Both producers' tokens open the API.
        for token in (WEB, BILLING):
            answer = await c.post(
                "/api/v1/jobs", content=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 202
    assert len(await queued_ids(queue)) == 2


async def test_without_producer_tokens_the_api_is_not_there(http: Http, queue: Queue) -> None:
    async with http(producer_tokens={}) as c:
        for headers in (BEARER, {"Authorization": f"Bearer {TOKEN}"}, {}):
            answers = [
                await c.post("/api/v1/jobs", content=copy().model_dump_json(), headers=headers),
                await c.post("/api/v1/jobs:batch", content="{}", headers=headers),
                await c.get("/api/v1/jobs/x", headers=headers),
                await c.get("/api/v1/openapi.json", headers=headers),
            ]
            assert [a.status_code for a in answers] == [404] * 4
    assert await queued_ids(queue) == []


async def test_an_idempotency_key_enqueues_one_job(http: Http, queue: Queue) -> None:
    body = copy().model_dump_json()
    async with http() as c:
        first, again = [
            await c.post(
                "/api/v1/jobs", content=body, headers={**BEARER, "Idempotency-Key": "order-1"}
            )
            for _ in range(2)
        ]
        other = await c.post(
            "/api/v1/jobs",
            content=body,
            headers={"Authorization": f"Bearer {BILLING}", "Idempotency-Key": "order-1"},
        )
        bad = await c.post("/api/v1/jobs", content=body, headers={**BEARER, "Idempotency-Key": ""})
    async with http(queue_name=f"{queue.name}-other") as c:  # job ids are not per queue in Redis
        elsewhere = await c.post(
            "/api/v1/jobs", content=body, headers={**BEARER, "Idempotency-Key": "order-1"}
        )
    assert elsewhere.json()["enqueued"] is True
    assert elsewhere.json()["job_id"] != first.json()["job_id"]
    assert first.json()["enqueued"] is True and again.json()["enqueued"] is False
    assert again.json()["job_id"] == first.json()["job_id"]
    assert other.json()["enqueued"] is True  # another producer's key is another job
    assert sorted(await queued_ids(queue)) == sorted(
        [first.json()["job_id"], other.json()["job_id"]]
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["Idempotency-Key"]


async def test_a_batch_of_1000_is_enqueued_whole_or_not_at_all(http: Http, queue: Queue) -> None:
    jobs = [copy(i).model_dump(mode="json") for i in range(1000)]
    broken = [*jobs[:700], {**jobs[700], "dst_key": ""}, *jobs[701:]]
    headers = {**BEARER, "Idempotency-Key": "nightly"}
    async with http() as c:
        refused = await c.post("/api/v1/jobs:batch", json={"jobs": broken}, headers=headers)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["jobs", 700, "dst_key"]
        assert await queued_ids(queue) == []
        too_many = await c.post(
            "/api/v1/jobs:batch", json={"jobs": [*jobs, jobs[0]]}, headers=headers
        )
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["loc"] == ["jobs"]
        taken = await c.post("/api/v1/jobs:batch", json={"jobs": jobs}, headers=headers)
        assert taken.status_code == 202
        answers = taken.json()["jobs"]
        assert len(answers) == 1000 and all(a["enqueued"] for a in answers)
        assert sorted(await queued_ids(queue)) == sorted(a["job_id"] for a in answers)
        assert await stored(queue, answers[999]["job_id"]) == copy(999)
        again = await c.post("/api/v1/jobs:batch", json={"jobs": jobs}, headers=headers)
        assert [a["job_id"] for a in again.json()["jobs"]] == [a["job_id"] for a in answers]
        assert not any(a["enqueued"] for a in again.json()["jobs"])
    assert len(await queued_ids(queue)) == 1000


async def test_a_body_over_the_cap_is_refused_unread(http: Http, queue: Queue) -> None:
    cap = max(1024, len(copy().model_dump_json()) + 50)  # a copy fits; the upload does not
    job = UploadJob(bucket="media", key="k", data=b"x" * cap)
    read: list[int] = []

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: the cap stops the reading
        for _ in range(1000):
            read.append(1)
            yield b" " * 100

    async with http(max_payload_bytes=cap) as c:
        declared = await c.post("/api/v1/jobs", content=job.model_dump_json(), headers=BEARER)
        streamed = await c.post("/api/v1/jobs", content=stream(), headers=BEARER)
        small = await c.post("/api/v1/jobs", content=copy().model_dump_json(), headers=BEARER)
        batch = await c.post(
            "/api/v1/jobs:batch",
            json={"jobs": [copy().model_dump(mode="json"), job.model_dump(mode="json")]},
            headers=BEARER,
        )
    assert declared.status_code == 413 and streamed.status_code == 413
    assert len(read) <= cap // 100 + 2  # read up to the cap, not the 100 KB sent
    assert batch.status_code == 413 and batch.json()["errors"][0]["loc"] == ["jobs", 1]
    assert small.status_code == 202
    assert await queued_ids(queue) == [small.json()["job_id"]]


async def test_an_unreachable_redis_answers_503(http: Http) -> None:
    async with http(redis_url="redis://127.0.0.1:1/0") as c:
        answer = await c.post("/api/v1/jobs", content=copy().model_dump_json(), headers=BEARER)
        status = await c.get("/api/v1/jobs/x", headers=BEARER)
    assert answer.status_code == 503 and status.status_code == 503


async def test_mounted_under_a_prefix(api_settings: Settings, queue: Queue) -> None:
    host = FastAPI()
    host.mount("/jobs", create_app(api_settings))
    transport = httpx.ASGITransport(app=host)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as c:
        answer = await c.post("/jobs/api/v1/jobs", content=copy().model_dump_json(), headers=BEARER)
        assert answer.status_code == 202
        url = answer.json()["status_url"]
        assert url.startswith("/jobs/api/v1/jobs/")
        assert (await c.get(url, headers=BEARER)).json()["status"] == "queued"
        paths = (await c.get("/jobs/api/v1/openapi.json")).json()["paths"]
        assert "/jobs/api/v1/jobs" in paths


async def test_results_and_errors_are_read_back(
    http: Http, bucket: str, start_in_process: StartInProcess, queue: Queue, api_settings: Settings
) -> None:
    upload = UploadJob(bucket=bucket, key="hello.txt", data=b"hello")
    missing = CopyJob(src_bucket=bucket, src_key="nothing-here", dst_key="x")
    await start_in_process()
    async with http() as c:
        done = await c.post("/api/v1/jobs", content=upload.model_dump_json(), headers=BEARER)
        failed = await c.post("/api/v1/jobs", content=missing.model_dump_json(), headers=BEARER)
        states = {}
        for name, answer in (("done", done), ("failed", failed)):
            url = answer.json()["status_url"]
            for _ in range(600):
                states[name] = (await c.get(url, headers=BEARER)).json()
                if states[name]["status"] in ("complete", "failed"):
                    break
                await asyncio.sleep(0.05)
    assert states["done"]["status"] == "complete"
    assert states["done"]["result"]["kind"] == "upload" and states["done"]["result"]["size"] == 5
    assert "error" not in states["done"]
    assert states["failed"]["status"] == "failed"
    assert states["failed"]["error"]["code"] in ("NoSuchKey", "404")
    assert "result" not in states["failed"]
