"""Hostile or odd data in Redis never breaks a page: each is an unreadable row with its cause.

Issue 25's findings, planted on a real Redis and fetched through every page and JSON endpoint
(Starlette's TestClient): a deeply nested envelope and payload (``RecursionError``), keys of
the wrong type (``WRONGTYPE``), truncated JSON, malformed dead letters, a string at a prefix
job's progress key, a worker description nested too deeply, and values too large to read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from starlette.testclient import TestClient

from storage_jobs.dashboard import create_app
from storage_jobs.dashboard._letters import LETTER_BYTES, PAGE_BYTES
from storage_jobs.queue import QueueKeys, state_key
from storage_jobs.settings import Settings

pytestmark = pytest.mark.integration

DEEP = "[" * 10_000  # far deeper than any JSON parser here recurses
MAX_PAYLOAD = 4096  # so a "too large" job need not be megabytes


def envelope(payload: str) -> str:
    now = int(time.time() * 1000)
    return json.dumps({"f": "storage_jobs.copy", "a": [payload], "k": {}, "t": 1, "et": now})


def letter(job_id: str, message: str = "gone") -> str:
    return json.dumps(
        {"job_id": job_id, "function": "storage_jobs.copy", "payload": "{}", "error_type": "X",
         "message": message, "failed_at": time.time()}
    )  # fmt: skip


@pytest.fixture
def planted(e2e_redis_url: str, queue_name: str) -> Iterator[tuple[redis.Redis, QueueKeys]]:
    connection = redis.Redis.from_url(e2e_redis_url)
    keys = QueueKeys(queue_name)
    now = int(time.time() * 1000)
    jobs = {
        "deep-envelope": DEEP,
        "deep-payload": envelope(DEEP),
        "truncated": envelope('{"kind": "copy"}')[:40],
        "too-large": "x" * (3 * MAX_PAYLOAD + 70_000),
    }
    for job_id, value in jobs.items():
        connection.set(keys.job(job_id), value, ex=600)
    connection.hset(keys.job("wrong-type"), "f", "x")
    connection.expire(keys.job("wrong-type"), 600)
    connection.zadd(keys.queue, {job_id: now for job_id in [*jobs, "wrong-type"]})
    letters = {
        "dl-garbage": "{not json",
        "dl-deep": '{"job_id": ' + DEEP,
        "dl-shape": '{"job_id": "dl-shape"}',
        "dl-huge": letter("dl-huge", "m" * LETTER_BYTES),
        "dl-good": letter("dl-good"),
    }
    connection.hset(keys.dead_data, mapping=letters)
    connection.zadd(keys.dead_index, {job_id: time.time() for job_id in letters})
    connection.zadd(keys.prefix_jobs, {"mig-wrong": now})
    connection.set(state_key("mig-wrong", "progress"), "not a hash", ex=600)
    connection.zadd(keys.workers, {"w-deep": now})
    connection.set(keys.worker("w-deep"), DEEP, ex=600)
    yield connection, keys
    connection.delete(keys.queue, keys.dead_data, keys.dead_index, keys.prefix_jobs, keys.workers)
    connection.close()


@pytest.fixture
def http(e2e_redis_url: str, queue_name: str) -> Iterator[TestClient]:
    settings = Settings(
        redis_url=e2e_redis_url, queue_name=queue_name, max_payload_bytes=MAX_PAYLOAD
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield client


def unreadable(answer: dict[str, object]) -> dict[str, str]:
    rows = answer["unreadable"]
    assert isinstance(rows, list)
    return {row["id"]: row["cause"] for row in rows}


def test_every_page_survives_and_names_what_it_cannot_read(
    planted: tuple[redis.Redis, QueueKeys], http: TestClient
) -> None:
    pages = ["/", "/jobs?status=queued", "/jobs?status=queued&kind=copy", "/jobs?status=dead"]
    pages += ["/dead-letters", "/dead-letters?kind=copy", "/migrations", "/workers"]
    for path in pages:
        for served in (path, "/api" + path if path != "/" else "/api/overview"):
            answer = http.get(served)
            assert answer.status_code == 200, served
    queued = unreadable(http.get("/api/jobs?status=queued").json())
    assert queued == {"wrong-type": "WRONGTYPE: the key holds another kind of value"}
    assert "wrong-type" in http.get("/jobs?status=queued").text
    dead = unreadable(http.get("/api/dead-letters").json())
    assert set(dead) == {"dl-garbage", "dl-deep", "dl-shape", "dl-huge"}
    assert "nested too deeply" in dead["dl-deep"] or "recursion" in dead["dl-deep"]
    assert dead["dl-huge"].startswith("too large to read")
    assert "dl-shape" in http.get("/dead-letters").text
    assert [r["job_id"] for r in http.get("/api/dead-letters").json()["rows"]] == ["dl-good"]
    assert set(unreadable(http.get("/api/jobs?status=dead").json())) == set(dead)
    assert set(unreadable(http.get("/api/migrations").json())) == {"mig-wrong"}
    assert "mig-wrong" in http.get("/migrations").text
    assert set(unreadable(http.get("/api/workers").json())) == {"workers"}


@pytest.mark.parametrize(
    ("job_id", "cause"),
    [
        ("wrong-type", "WRONGTYPE"),
        ("too-large", "too large to read"),
    ],
)
def test_an_unreadable_job_has_a_page_saying_why(
    planted: tuple[redis.Redis, QueueKeys], http: TestClient, job_id: str, cause: str
) -> None:
    page = http.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and cause in page.text and job_id in page.text
    answer = http.get(f"/api/jobs/{job_id}").json()
    assert answer["id"] == job_id and cause in answer["cause"]


def test_a_job_with_an_unreadable_payload_shows_the_rest(
    planted: tuple[redis.Redis, QueueKeys], http: TestClient
) -> None:
    answer = http.get("/api/jobs/deep-payload").json()
    assert answer["status"] == "queued" and "nested too deeply" in answer["payload"]
    for job_id in ("truncated", "deep-envelope"):  # no payload to show; the rest is there
        shown = http.get(f"/api/jobs/{job_id}").json()
        assert shown["status"] == "queued" and shown["payload"] is None, job_id
    assert http.get("/jobs/deep-payload").status_code == 200


@pytest.mark.parametrize("job_id", ["dl-garbage", "dl-deep", "dl-shape", "dl-huge"])
def test_an_unreadable_dead_letter_has_a_page_saying_why(
    planted: tuple[redis.Redis, QueueKeys], http: TestClient, job_id: str
) -> None:
    page = http.get(f"/dead-letters/{quote(job_id)}")
    assert page.status_code == 200 and job_id in page.text and "cannot be read" in page.text
    assert http.get(f"/api/dead-letters/{job_id}").json()["id"] == job_id
    assert http.get(f"/jobs/{job_id}").status_code == 200


def test_a_dead_letter_page_reads_a_bounded_number_of_bytes(
    e2e_redis_url: str, queue_name: str, http: TestClient
) -> None:
    """Letters just under the size cap: a page stops after ``PAGE_BYTES``, and goes on."""
    connection = redis.Redis.from_url(e2e_redis_url)
    keys = QueueKeys(queue_name)
    big = LETTER_BYTES - 4096
    count = PAGE_BYTES // big + 4
    ids = [f"big-{n:02}" for n in range(count)]
    for n, job_id in enumerate(ids):
        connection.hset(keys.dead_data, job_id, letter(job_id, "m" * big))
        connection.zadd(keys.dead_index, {job_id: 1000 - n})  # newest first: big-00...
    try:
        first = http.get("/api/dead-letters?limit=100").json()
        shown = [r["job_id"] for r in first["rows"]]
        assert 0 < len(shown) <= PAGE_BYTES // big + 1 < count
        assert first["next_offset"] == len(shown)
        rest = http.get(f"/api/dead-letters?limit=100&offset={first['next_offset']}").json()
        assert shown + [r["job_id"] for r in rest["rows"]][: count - len(shown)] == ids
    finally:
        connection.delete(keys.dead_data, keys.dead_index)
        connection.close()


def test_a_queue_structure_of_the_wrong_type_is_named_not_a_500(
    e2e_redis_url: str, queue_name: str, http: TestClient
) -> None:
    """The dead-letter index itself replaced by a string: the pages that read it say so."""
    connection = redis.Redis.from_url(e2e_redis_url)
    keys = QueueKeys(queue_name)
    connection.set(keys.dead_index, "not a sorted set", ex=600)
    try:
        for path in ("/", "/api/overview", "/dead-letters", "/api/dead-letters"):
            answer = http.get(path)
            assert answer.status_code == 503, path
            assert "unreadable data in Redis: WRONGTYPE" in answer.text, path
        assert http.get("/workers").status_code == 200  # the rest of the dashboard stands
    finally:
        connection.delete(keys.dead_index)
        connection.close()
