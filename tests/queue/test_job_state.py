"""Job state lifetimes: a finished delete's state never outlives the job's result."""

from __future__ import annotations

import fakeredis
import pytest

from storage_jobs.queue import RedisJobState, state_key


@pytest.mark.parametrize(("result_ttl", "kept"), [(None, 3600), (120.0, 120), (7 * 86400.0, 3600)])
async def test_finished_delete_state_is_kept_at_most_as_long_as_the_result(
    result_ttl: float | None, kept: int
) -> None:
    """expire_soon keeps the state min(1 h, result TTL): past the result it is never read."""
    redis = fakeredis.aioredis.FakeRedis(server=fakeredis.FakeServer())
    state = RedisJobState(redis, result_ttl=result_ttl).delete("job-1", "delete")
    await state.record(retry={}, final={}, round_=1, batch_index=0)
    assert await redis.ttl(state_key("job-1", "delete:done")) > 86400  # while running: long
    await state.expire_soon()
    for part in ("done", "round"):
        ttl = await redis.ttl(state_key("job-1", f"delete:{part}"))
        assert kept - 2 <= ttl <= kept, part
    await redis.aclose()
