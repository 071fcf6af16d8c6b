"""An idle worker costs Redis a few commands a second (counted, on a private redis-server)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from storage_jobs.devstack import RedisServer
from storage_jobs.settings import Settings
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

WINDOW_S = 12.0
GOAL_PER_S = 5.0  # issue 11: an idle worker sends at most 5 commands a second


def _calls(client: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
    return {name: int(v["calls"]) for name, v in stats.items() if isinstance(v, dict)}


def test_an_idle_worker_sends_at_most_five_commands_a_second(
    private_redis: RedisServer, start_worker: Callable[..., WorkerProcess]
) -> None:
    defaults = Settings.model_fields
    start_worker(
        STORAGE_JOBS_REDIS_URL=private_redis.url,
        # The worker's defaults, not the e2e fixtures' short ones: the goal is for a default worker.
        STORAGE_JOBS_LEASE_SECONDS=str(defaults["lease_seconds"].default),
        STORAGE_JOBS_HEALTH_CHECK_INTERVAL=str(defaults["health_check_interval"].default),
        STORAGE_JOBS_IDLE_WAIT_MAX=str(defaults["idle_wait_max"].default),
    )
    client = redis.Redis.from_url(private_redis.url)
    try:
        time.sleep(2.0)  # start-up traffic settles
        before, t0 = _calls(client), time.monotonic()
        time.sleep(WINDOW_S)
        after, t1 = _calls(client), time.monotonic()
    finally:
        client.close()
    sent = {name: after[name] - before.get(name, 0) for name in after}
    sent["cmdstat_info"] -= 1  # the first INFO above, counted in the second snapshot
    rate = sum(sent.values()) / (t1 - t0)
    assert rate <= GOAL_PER_S, f"{rate:.2f} commands/s: {sent}"
    # It blocks on the wake list instead of polling once a second (old: a claim per second).
    assert sent.get("cmdstat_evalsha", 0) <= WINDOW_S / 5 + 1, sent
