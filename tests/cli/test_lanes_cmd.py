"""``storage-jobs enqueue --priority`` and the per-lane counts of ``storage-jobs queue``."""

from __future__ import annotations

import asyncio

import pytest

from storage_jobs.client import StorageJobsClient
from storage_jobs.queue import peek_priority
from tests.cli.test_ops_commands import cli_env, run_cli

pytestmark = pytest.mark.integration

__all__ = ["cli_env"]  # the fixture, used by name


async def test_enqueue_priority_lands_in_its_lane_and_queue_counts_lanes(
    cli_env: dict[str, str], jobs: StorageJobsClient
) -> None:
    """Two high, one default, one bulk: ``queue --json`` counts each lane and their sum."""
    runs = await asyncio.gather(
        run_cli(cli_env, "enqueue", "upload", "b-1", "h1", "--data", "x", "--priority", "high"),
        run_cli(cli_env, "enqueue", "upload", "b-1", "h2", "--data", "x", "--priority", "high"),
        run_cli(cli_env, "enqueue", "upload", "b-1", "n1", "--data", "x"),
        run_cli(cli_env, "enqueue", "delete", "b-1", "k", "--priority", "bulk"),
    )
    assert [r.code for r in runs] == [0, 0, 0, 0], runs
    high = runs[0].out.strip()
    assert await jobs.redis.zscore(jobs.keys.lane("high"), high) is not None
    info = await run_cli(cli_env, "queue", "--json")
    assert info.code == 0, info.err
    lanes = {name: lane["depth"] for name, lane in info.data["lanes"].items()}
    assert lanes == {"high": 2, "normal": 1, "bulk": 1}
    assert info.data["depth"] == 4
    text = await run_cli(cli_env, "queue")
    assert text.code == 0 and "lanes" in text.out and "bulk" in text.out


async def test_a_bad_priority_exits_2_and_enqueues_nothing(
    cli_env: dict[str, str], jobs: StorageJobsClient
) -> None:
    """``--priority urgent``: a usage error naming the choices; no lane holds a job."""
    run = await run_cli(
        cli_env, "enqueue", "upload", "b-1", "k", "--data", "x", "--priority", "urgent"
    )
    assert run.code == 2 and "urgent" in run.err and "high" in run.err
    for lane in jobs.keys.lanes:
        assert await jobs.redis.zcard(lane) == 0


async def test_migrate_priority_rides_in_the_envelope_for_its_batches(
    cli_env: dict[str, str], jobs: StorageJobsClient
) -> None:
    """``migrate --priority high``: the coordinator is in high and tells its batches so."""
    run = await run_cli(cli_env, "migrate", "src-b/p/", "dst-b/", "--priority", "high")
    assert run.code == 0, run.err
    job_id = run.out.strip()
    assert await jobs.redis.zscore(jobs.keys.lane("high"), job_id) is not None
    raw = await jobs.redis.get(jobs.keys.job(job_id))
    assert peek_priority(raw) == "high"
    plain = await run_cli(cli_env, "migrate", "src-b/q/", "dst-b/")
    assert plain.code == 0, plain.err
    assert peek_priority(await jobs.redis.get(jobs.keys.job(plain.out.strip()))) is None
