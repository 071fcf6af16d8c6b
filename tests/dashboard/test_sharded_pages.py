"""Every dashboard page and action on a queue of three shards: one server, a Redis Cluster, Valkey.

The jobs are put in place through ``Queue`` (no worker runs): queued and deferred jobs, jobs
cancelled, dead letters and a migration, spread over the shards; each list then holds every
shard's, a job's page and a migration's are read on their shard, and the actions reach it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from storage_jobs.dashboard import create_app
from storage_jobs.jobs import DeleteJob, MigrateJob
from storage_jobs.queue import Finish, NewJob, Queue, open_queue
from storage_jobs.settings import Settings
from tests.dashboard.conftest import TOKEN

pytestmark = pytest.mark.integration

on_sharded_layouts = pytest.mark.parametrize(
    "layout", ["sharded", "cluster", pytest.param("valkey", marks=pytest.mark.slow)], indirect=True
)
FAR = 2**50  # a claim time at which every job is due


@dataclass
class Placed:
    """The jobs put on the queue, by state (ids as the queue holds them)."""

    queued: list[str]
    deferred: list[str]
    cancelled: list[str]
    dead: list[str]
    migration: str


@pytest.fixture
def sharded_settings(queue_redis_url: str, queue_shards: int, queue_name: str) -> Settings:
    return Settings(
        redis_url=queue_redis_url,
        queue_name=queue_name,
        queue_shards=queue_shards,
        dashboard_token=TOKEN,
        dashboard_hosts=["app.test"],
        dashboard_actions=True,
    )


def _job(i: int) -> DeleteJob:
    return DeleteJob(bucket="bkt", keys=[f"k{i}"])


@pytest.fixture
async def placed(sharded_settings: Settings) -> AsyncIterator[Placed]:
    producer = await open_queue(sharded_settings)
    worker = await open_queue(sharded_settings, worker_id="w1")
    try:
        # Dead letters first: the claim that makes them takes every job then queued.
        doomed = await producer.enqueue_many([NewJob(_job(i), job_id=f"d{i}") for i in range(6)])
        claim = await worker.claim(6, FAR)
        for claimed in claim.run:
            await worker.dead_letters.add(
                job_id=claimed.job_id,
                function="storage_jobs.delete",
                raw_payload=claimed.payload,
                error_type="JobFailed",
                message="no",
            )
        await worker.finish([Finish(c.job_id, True, lane=c.lane) for c in claim.run])
        queued = await producer.enqueue_many([NewJob(_job(i), job_id=f"q{i}") for i in range(12)])
        # Due at distinct times that interleave the shards: the merged order is seen.
        later = [NewJob(_job(i), job_id=f"l{i}", defer_by=3600 + 60 * i) for i in range(6)]
        deferred = await producer.enqueue_many(later)
        ids = [job_id for job_id, _ in queued]
        cancelled, queued_ids = ids[:4], ids[4:]
        assert all(await producer.cancel(cancelled))
        migrate = MigrateJob(src_bucket="src", src_prefix="a/", dst_bucket="dst", dst_prefix="b/")
        ((migration, _),) = await producer.enqueue_many([NewJob(migrate, job_id="m1")])
        await producer.progress(migration).start("migrate", False)
        placed = Placed(
            queued=queued_ids,
            deferred=[job_id for job_id, _ in deferred],
            cancelled=cancelled,
            dead=[job_id for job_id, _ in doomed],
            migration=migration,
        )
        spread = [producer.layout.index(j) for j in placed.queued + placed.dead]
        assert len(set(spread)) == 3, "the jobs should sit on every shard"
        yield placed
    finally:
        await producer.redis.aclose()
        await worker.redis.aclose()


@contextlib.asynccontextmanager
async def dashboard_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the dashboard app on ``settings``, the bearer token sent."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://app.test", headers=headers
        ) as c:
            yield c
    finally:
        await app.state.dashboard.close()


@pytest.fixture
async def client(sharded_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with dashboard_client(sharded_settings) as c:
        yield c


async def _json(client: httpx.AsyncClient, path: str) -> Any:
    answer = await client.get(path)
    assert answer.status_code == 200, (path, answer.text[:500])
    return answer.json()


async def _page(client: httpx.AsyncClient, path: str) -> str:
    answer = await client.get(path)
    assert answer.status_code == 200, (path, answer.text[:500])
    return answer.text


def _ids(page: Any) -> list[str]:
    return [row["job_id"] for row in page["rows"]]


@on_sharded_layouts
async def test_job_lists_hold_every_shards_jobs_in_one_order(
    placed: Placed, client: httpx.AsyncClient
) -> None:
    lists = {
        "queued": [*placed.queued, placed.migration],
        "deferred": placed.deferred,
        "cancelled": placed.cancelled,
        "dead": placed.dead,
    }
    for state, expected in lists.items():
        whole = await _json(client, f"/api/jobs?status={state}&limit=100")
        assert whole["total"] == len(expected), state
        assert sorted(_ids(whole)) == sorted(expected), state
        # Pages of three read as slices of the whole list: the shards merged in one order.
        paged: list[str] = []
        for offset in range(0, len(expected), 3):
            part = await _json(client, f"/api/jobs?status={state}&offset={offset}&limit=3")
            paged += _ids(part)
        assert paged == _ids(whole), state
        at = [row["at"] for row in whole["rows"]]
        newest_first = state in ("cancelled", "dead")
        assert at == sorted(at, reverse=newest_first), state
        html = await _page(client, f"/jobs?status={state}&limit=100")
        assert all(quote(job_id, safe="") in html or job_id in html for job_id in expected)
    kinds = await _json(client, "/api/jobs?status=queued&kind=delete&limit=100")
    assert sorted(_ids(kinds)) == sorted(placed.queued)  # a kind filter reads every shard too


@on_sharded_layouts
async def test_a_jobs_page_and_a_dead_letters_page_read_its_shard(
    placed: Placed, client: httpx.AsyncClient
) -> None:
    for job_id in placed.queued[:3]:
        job = await _json(client, f"/api/jobs/{quote(job_id, safe='')}")
        assert (job["job_id"], job["status"], job["kind"]) == (job_id, "queued", "delete")
        assert job_id in (await _page(client, f"/jobs/{quote(job_id, safe='')}"))
    untagged = placed.queued[0].split("}", 1)[1]  # the id the producer gave works too
    assert (await _json(client, f"/api/jobs/{untagged}"))["job_id"] == placed.queued[0]
    cancelled = await _json(client, f"/api/jobs/{quote(placed.cancelled[0], safe='')}")
    assert cancelled["status"] == "cancelled"
    letters = await _json(client, "/api/dead-letters?limit=100")
    assert letters["total"] == len(placed.dead)
    assert sorted(_ids(letters)) == sorted(placed.dead)
    for job_id in placed.dead:
        letter = await _json(client, f"/api/dead-letters/{quote(job_id, safe='')}")
        assert letter["letter"]["error_type"] == "JobFailed"
        dead = await _json(client, f"/api/jobs/{quote(job_id, safe='')}")
        assert dead["dead_letter"] is True
    filtered = await _json(client, "/api/dead-letters?error_type=JobFailed&limit=100")
    assert sorted(_ids(filtered)) == sorted(placed.dead)
    assert placed.dead[0] in await _page(client, "/dead-letters")


@on_sharded_layouts
async def test_the_migrations_page_and_a_migrations_page_read_its_shard(
    placed: Placed, client: httpx.AsyncClient
) -> None:
    page = await _json(client, "/api/migrations")
    assert page["total"] == 1
    (row,) = page["rows"]
    assert (row["migration_id"], row["kind"]) == (placed.migration, "migrate")
    job = await _json(client, f"/api/jobs/{quote(placed.migration, safe='')}")
    assert job["progress"]["migration_id"] == placed.migration
    assert placed.migration in await _page(client, "/migrations")


@on_sharded_layouts
async def test_actions_reach_the_jobs_shard_and_the_overview_counts_them(
    placed: Placed, client: httpx.AsyncClient
) -> None:
    async def act(path: str, status: int = 303, **form: Any) -> None:
        answer = await client.post(path, data=form, follow_redirects=False)
        assert answer.status_code == status, answer.text[:500]

    await act("/actions/jobs", action="cancel", ids=placed.queued[:2])
    for job_id in placed.queued[:2]:
        assert (await _json(client, f"/api/jobs/{quote(job_id, safe='')}"))["status"] == (
            "cancelled"
        )
    await act("/actions/jobs", action="pause", ids=[placed.migration])
    (row,) = (await _json(client, "/api/migrations"))["rows"]
    assert row["pause_requested"] is True
    await act("/actions/jobs", action="resume", ids=[placed.migration])
    await act("/actions/dead-letters", 200, action="drop", scope="one", ids=[placed.dead[1]])
    replayed = placed.dead[0]
    await act("/actions/dead-letters", 200, action="replay", scope="one", ids=[replayed])
    assert (await _json(client, f"/api/jobs/{quote(replayed, safe='')}"))["status"] == "queued"
    # A filter's matches are read over every shard: the bulk drop takes all but one.
    await act(
        "/actions/dead-letters",
        200,
        action="drop",
        scope="filter",
        error_type="JobFailed",
        confirm="yes",
        expected=str(len(placed.dead) - 2),
    )
    await act("/actions/queue", action="pause_queue")
    overview = await _json(client, "/api/overview")
    (queue,) = overview["queues"]
    assert queue["paused"] is True
    assert queue["dead_letters"] == 0
    assert queue["finished"]["cancelled"] == len(placed.cancelled) + 2
    minutes = overview["history"]
    assert sum(m["cancelled"] for m in minutes) == len(placed.cancelled) + 2  # every shard's
    assert (await client.get("/chart.svg")).status_code == 200
    await act("/actions/queue", action="resume_queue")
    assert (await _json(client, "/api/overview"))["queues"][0]["paused"] is False


async def test_a_tagged_queue_of_one_shard_reads_the_same(
    redis_cluster: Any, queue_name: str
) -> None:
    """A cluster with one shard: the queue's name and ids tagged, one shard's lists."""
    settings = Settings(
        redis_url=redis_cluster.url,
        queue_name=queue_name,
        dashboard_token=TOKEN,
        dashboard_hosts=["app.test"],
    )
    queue: Queue = await open_queue(settings)
    try:
        answers = await queue.enqueue_many([NewJob(_job(i)) for i in range(3)])
    finally:
        await queue.redis.aclose()
    async with dashboard_client(settings) as c:
        page = await _json(c, "/api/jobs?status=queued")
        job = await _json(c, f"/api/jobs/{quote(answers[0][0], safe='')}")
    assert sorted(_ids(page)) == sorted(j for j, _ in answers)
    assert job["status"] == "queued"
