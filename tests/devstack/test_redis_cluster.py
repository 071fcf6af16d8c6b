"""A devstack cluster forms as ``redis-cli --cluster create`` builds one; it leaves no trace."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from storage_jobs.devstack.redis_cluster import BUS_PORT_OFFSET, RedisCluster, cluster_ports
from tests.fixtures_cluster import cluster_server
from tests.procs import alive, port_is_free

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_every_port_leaves_room_for_its_bus_port() -> None:
    """Bus ports fit below 65536 and no port is another's bus port (Linux hands out up to 60999)."""
    ports = cluster_ports(200)
    bus_ports = {port + BUS_PORT_OFFSET for port in ports}
    assert len(set(ports)) == len(ports)
    assert max(bus_ports) <= 65535
    assert not bus_ports & set(ports)


@pytest.mark.integration
def test_masters_and_replicas_form_a_cluster_fail_over_and_stop_without_a_trace() -> None:
    """Masters split the slots evenly; a replica takes over its killed master, data kept.

    Exit kills every node and removes every file.
    """
    with RedisCluster(replicas=1, server=cluster_server()) as cluster:
        pids = cluster.pids
        workdir = cluster.workdir
        assert workdir is not None and workdir.is_dir()
        client = redis.Redis(port=cluster.ports[0], decode_responses=True)
        slots = sorted(
            (start, end, primary[1])
            for start, end, primary, *_ in cast("list[list[Any]]", client.cluster("SLOTS"))
        )
        client.close()
        # redis-cli's even split, one range per master in the order given.
        assert slots == [
            (0, 5460, cluster.master_ports[0]),
            (5461, 10922, cluster.master_ports[1]),
            (10923, 16383, cluster.master_ports[2]),
        ]
        # (CLUSTER SLOTS lists a replica only once it has replicated a byte: not yet, here.)
        followed = []
        for port in cluster.ports[cluster.masters :]:
            replica = redis.Redis(port=port, decode_responses=True)
            replication = cast("dict[str, Any]", replica.info("replication"))
            replica.close()
            assert replication["master_link_status"] == "up"
            followed.append(replication["master_port"])
        assert sorted(followed) == sorted(cluster.master_ports)

        doomed = cluster.master_ports[0]
        heir = cluster.ports[cluster.masters + followed.index(doomed)]
        master = redis.Redis(port=doomed)
        master.set("{kept}", "before the crash")  # slot 284: the first master's
        assert master.wait(1, 5000) == 1  # the replica has it before the crash
        master.close()
        cluster.stop_node(doomed)
        promoted = redis.Redis(port=heir, decode_responses=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if cast("dict[str, Any]", promoted.info("replication"))["role"] == "master":
                break
            time.sleep(0.1)
        assert cast("dict[str, Any]", promoted.info("replication"))["role"] == "master"
        assert promoted.get("{kept}") == "before the crash"
        promoted.close()
    assert not any(alive(pid) for pid in pids)
    assert all(port_is_free(port) for port in cluster.ports)
    assert not workdir.exists()


@pytest.mark.integration
def test_a_failed_test_body_still_tears_the_cluster_down() -> None:
    """An exception inside the ``with`` block stops every node and removes the directory."""
    cluster = RedisCluster(server=cluster_server())
    seen: list[object] = []

    def failing_body() -> None:
        with cluster:
            seen.extend([cluster.pids, cluster.workdir])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        failing_body()
    pids, workdir = seen
    assert isinstance(pids, list) and len(pids) == 3
    assert isinstance(workdir, Path)
    assert not any(alive(pid) for pid in pids)
    assert not workdir.exists()


@pytest.mark.integration
def test_a_server_that_does_not_start_fails_the_start_and_leaves_nothing(tmp_path: Path) -> None:
    """A node that exits at once makes start() raise, with nothing left running or on disk."""
    cluster = RedisCluster(server="false", parent=tmp_path)
    with pytest.raises(RuntimeError, match="did not start"):
        cluster.start(timeout=10)
    assert not cluster.pids
    assert not list(tmp_path.iterdir())
