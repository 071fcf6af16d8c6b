"""The FastAPI example over real HTTP (uvicorn), with a real worker, Redis and SeaweedFS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from storage_jobs.devstack import SeaweedFS
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.examples.conftest import load_example, serve
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

fastapi_app = load_example("fastapi_app")


@pytest.fixture
def base_url(
    e2e_redis_url: str, queue_name: str, seaweedfs: SeaweedFS, bucket: str
) -> Iterator[str]:
    """The example app served on a free port, on this test's queue and bucket."""
    settings = Settings(
        redis_url=e2e_redis_url,
        queue_name=queue_name,
        s3_endpoint_url=seaweedfs.endpoint_url,
        s3_access_key_id=seaweedfs.access_key,
        s3_secret_access_key=seaweedfs.secret_key,
        max_inline_bytes=64 * 1024,
    )
    with serve(fastapi_app.create_app(settings, bucket=bucket)) as url:
        yield url


async def finished(client: httpx.AsyncClient, job_id: str, timeout: float = 30) -> Any:
    """Polls GET /jobs/{id} until the job is complete or failed."""
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("complete", "failed") and (body["result"] or body["error"]):
            return body
        assert time.monotonic() < deadline, f"job {job_id} still {body['status']}"
        await asyncio.sleep(0.1)


async def test_post_file_enqueues_an_upload(
    start_worker: Callable[..., WorkerProcess],
    base_url: str,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """POST /files answers 202 with a job id; the worker stores exactly the posted bytes."""
    start_worker()
    data = bytes(range(256)) * 40
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            "/files", files={"file": ("../my report.pdf", data, "application/pdf")}
        )
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert set(accepted) == {"job_id", "key"}
        assert accepted["key"].startswith("files/") and accepted["key"].endswith("/my_report.pdf")

        body = await finished(client, accepted["job_id"])
        assert body["status"] == "complete"
        assert body["result"]["size"] == len(data)
        assert body["result"]["key"] == accepted["key"]
        assert await admin_storage.fetch_file(bucket=bucket, key=accepted["key"]) == data
        head = await admin_storage.head_object(bucket=bucket, key=accepted["key"])
        assert head["content_type"] == "application/pdf"

        too_big = await client.post("/files", files={"file": ("big", b"x" * (64 * 1024 + 1))})
        assert too_big.status_code == 413
        assert (await client.get("/jobs/no-such-job")).status_code == 404


async def test_presigned_upload_then_complete_copies_to_the_final_key(
    start_worker: Callable[..., WorkerProcess],
    base_url: str,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """Presign, PUT straight to S3, complete: a copy job puts the bytes at the final key."""
    start_worker()
    data = b"uploaded by the browser\n" * 100
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            "/uploads/presign", json={"filename": "photo.jpg", "content_type": "image/jpeg"}
        )
        assert response.status_code == 200, response.text
        presigned = response.json()
        staging_key = presigned["staging_key"]
        assert staging_key.startswith("staging/") and staging_key.endswith("/photo.jpg")
        assert presigned["method"] == "PUT"

        early = await client.post(f"/uploads/{staging_key}/complete")
        assert early.status_code == 409  # nothing uploaded yet

        put = await client.put(presigned["url"], content=data, headers=presigned["headers"])
        assert put.status_code == 200, put.text

        done = await client.post(f"/uploads/{staging_key}/complete")
        assert done.status_code == 202, done.text
        accepted = done.json()
        final_key = accepted["key"]
        assert final_key == "files/" + staging_key.removeprefix("staging/")
        again = await client.post(f"/uploads/{staging_key}/complete")
        assert again.json()["job_id"] == accepted["job_id"]  # one copy per staging key

        body = await finished(client, accepted["job_id"])
        assert body["status"] == "complete"
        assert body["result"]["dst_key"] == final_key
        assert await admin_storage.fetch_file(bucket=bucket, key=final_key) == data
        head = await admin_storage.head_object(bucket=bucket, key=final_key)
        assert head["content_type"] == "image/jpeg"

        outside = await client.post("/uploads/files/secret.txt/complete")
        assert outside.status_code == 400  # only staging keys the app handed out


async def test_failed_job_reports_its_error(
    start_worker: Callable[..., WorkerProcess],
    base_url: str,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """A job that failed for good shows status failed with the error type and code."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        presigned = (await client.post("/uploads/presign", json={"filename": "x.txt"})).json()
        key = presigned["staging_key"]
        put = await client.put(presigned["url"], content=b"x", headers=presigned["headers"])
        assert put.status_code == 200
        done = (await client.post(f"/uploads/{key}/complete")).json()
        assert (await client.get(f"/jobs/{done['job_id']}")).json()["status"] == "queued"
        # The staging object vanishes before any worker runs: the copy fails for good.
        seaweedfs.client().delete_object(Bucket=bucket, Key=key)
        start_worker()
        body = await finished(client, done["job_id"])
    assert body["status"] == "failed"
    assert body["result"] is None
    assert (body["error"]["type"], body["error"]["code"]) == (
        "StorageObjectNotFoundError",
        "NoSuchKey",
    )
