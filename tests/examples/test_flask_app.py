"""The Flask example through Flask's test client, with a real worker, Redis and SeaweedFS."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage_jobs.devstack import SeaweedFS
from storage_jobs.settings import Settings
from tests.examples.conftest import load_example
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

flask_app = load_example("flask_app")


@pytest.fixture
def client(e2e_redis_url: str, queue_name: str, bucket: str) -> Iterator[Any]:
    """A Flask test client of the example app on this test's queue and bucket."""
    app = flask_app.create_app(
        Settings(redis_url=e2e_redis_url, queue_name=queue_name), bucket=bucket
    )
    try:
        yield app.test_client()
    finally:
        app.extensions["storage_jobs"].close()


def finished(client: Any, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """Polls GET /jobs/<id> until the job has a result or an error."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.get_json()
        if "result" in body or "error" in body:
            return body
        assert time.monotonic() < deadline, f"job {job_id} still {body['status']}"
        time.sleep(0.1)


def test_upload_then_delete(
    start_worker: Callable[..., WorkerProcess], client: Any, seaweedfs: SeaweedFS, bucket: str
) -> None:
    """POST /files stores the bytes via a worker; DELETE /files removes them; GET reports both."""
    start_worker()
    response = client.post(
        "/files",
        data={"file": (io.BytesIO(b"from flask"), "a.txt", "text/plain")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.text
    accepted = response.get_json()
    body = finished(client, accepted["job_id"])
    assert body["status"] == "complete" and body["result"]["size"] == 10
    s3 = seaweedfs.client()
    assert s3.get_object(Bucket=bucket, Key=accepted["key"])["Body"].read() == b"from flask"

    deleted = client.delete("/files", json={"keys": [accepted["key"]]})
    assert deleted.status_code == 202
    body = finished(client, deleted.get_json()["job_id"])
    assert body["result"]["deleted_count"] == 1 and body["result"]["failed"] == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert client.post("/files", data={}).status_code == 400
    assert client.get("/jobs/nope").status_code == 404
