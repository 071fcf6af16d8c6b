"""Shared pytest configuration; fixtures live in plugin modules listed below.

Two guards keep the fast part (``-m "not integration"``) honest: a test that uses a real server
fixture must be marked ``integration`` (checked at collection), and a test that is not marked
fails if it connects to the session's Redis port.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest_plugins = [
    "tests.fixtures_redis",  # first: fixtures_e2e imports it
    "tests.fixtures_devstack",
    "tests.fixtures_e2e",
    "tests.fixtures_moto",
    "tests.fixtures_cluster",
]

SERVER_FIXTURES = frozenset({"redis_server", "private_redis", "seaweedfs"})
"""Fixtures that start or reach real servers: only integration tests may use them."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuses to run when a test uses a server fixture without the ``integration`` mark."""
    unmarked = [
        f"{item.nodeid} (uses {', '.join(sorted(used))})"
        for item in items
        if (used := SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that need a real server must be marked integration:\n  " + "\n  ".join(unmarked)
        )


def _redis_ports() -> frozenset[int]:
    from tests.fixtures_redis import probe_url  # late: pytest imports it as a plugin first

    return frozenset({6379, urlsplit(probe_url()).port or 6379})


@pytest.fixture(autouse=True)
def _fast_tests_reach_no_redis(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fails a test without the ``integration`` mark that connects to a Redis port."""
    if request.node.get_closest_marker("integration") is not None:
        yield
        return
    ports, attempts = _redis_ports(), list[object]()
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def blocked(address: Any) -> bool:
        if isinstance(address, tuple) and len(address) >= 2 and address[1] in ports:
            attempts.append(address)
            return True
        return False

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if blocked(address):
            raise ConnectionRefusedError(f"fast test connected to {address} (not integration)")
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        return errno.ECONNREFUSED if blocked(address) else connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield
    if attempts:
        pytest.fail(f"a test not marked integration connected to Redis at {attempts[0]}")
