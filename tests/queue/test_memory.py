"""Redis memory: the eviction policy as read through CONFIG, INFO or the setting; OOM errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from storage_jobs.devstack import RedisServer
from storage_jobs.queue import is_redis_full, read_eviction_policy, redis_said

pytestmark = pytest.mark.integration

PASSWORD = "pw-memory-test"


@pytest.fixture
def lru_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server that evicts (allkeys-lru), with users that lack CONFIG/INFO."""
    server = RedisServer(
        tmp_path / "redis", extra_args=("--maxmemory-policy", "allkeys-lru", "--maxmemory", "64mb")
    )
    with server:
        admin = redis.Redis(port=server.port)
        for name, refused in (("noconfig", ["-config"]), ("blind", ["-config", "-info"])):
            admin.acl_setuser(
                name,
                enabled=True,
                passwords=[f"+{PASSWORD}"],
                keys=["*"],
                categories=["+@all"],
                commands=refused,
            )
        yield server


@pytest.fixture
async def as_user(lru_redis: RedisServer) -> AsyncIterator[dict[str, Redis]]:
    """Connections as the default user, ``noconfig`` and ``blind``."""
    conns = {
        "default": Redis(port=lru_redis.port),
        "noconfig": Redis(port=lru_redis.port, username="noconfig", password=PASSWORD),
        "blind": Redis(port=lru_redis.port, username="blind", password=PASSWORD),
    }
    yield conns
    for conn in conns.values():
        await conn.aclose()


async def test_an_evicting_policy_is_read_and_named(as_user: dict[str, Redis]) -> None:
    """CONFIG GET sees allkeys-lru: not safe, and the problem names the policy."""
    policy = await read_eviction_policy(as_user["default"])
    assert (policy.policy, policy.source, policy.safe) == ("allkeys-lru", "CONFIG GET", False)
    problem = policy.problem()
    assert problem is not None and "allkeys-lru" in problem and "noeviction" in problem


async def test_without_config_info_memory_answers(as_user: dict[str, Redis]) -> None:
    """A user refused CONFIG (as on managed Redis) still learns the policy from INFO memory."""
    policy = await read_eviction_policy(as_user["noconfig"])
    assert (policy.policy, policy.source) == ("allkeys-lru", "INFO memory")


async def test_refused_both_the_declared_setting_or_unknown(as_user: dict[str, Redis]) -> None:
    """Refused CONFIG and INFO: the declared policy if given, else unknown with both reasons."""
    unknown = await read_eviction_policy(as_user["blind"])
    assert (unknown.policy, unknown.source, unknown.safe) == ("unknown", "unknown", False)
    assert unknown.reason is not None
    assert "CONFIG GET refused" in unknown.reason and "INFO refused" in unknown.reason
    declared = await read_eviction_policy(as_user["blind"], declared="noeviction")
    assert (declared.policy, declared.source, declared.safe) == ("noeviction", "setting", True)


async def test_noeviction_is_safe(tmp_path: Path) -> None:
    """A default redis-server (noeviction) reads as safe, with no problem."""
    with RedisServer(tmp_path / "redis") as server:
        redis = Redis(port=server.port)
        policy = await read_eviction_policy(redis)
        await redis.aclose()
    assert (policy.policy, policy.safe, policy.problem()) == ("noeviction", True, None)


def test_oom_is_recognised_and_the_command_quote_dropped() -> None:
    """A pipeline's annotated OOM error is a full Redis; only Redis's own words are kept."""
    error = ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
    assert is_redis_full(error)
    error.args = (
        "Command # 3 (EVALSHA abc 4 arq:job:x PAYLOAD-BYTES) of pipeline caused error: "
        "('OOM command not allowed when used memory > maxmemory.',)",
    )
    assert is_redis_full(error)
    assert redis_said(error) == "OOM command not allowed when used memory > maxmemory."
    assert not is_redis_full(ResponseError("NOPERM this user has no permissions"))
