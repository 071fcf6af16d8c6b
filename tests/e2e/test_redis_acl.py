"""ACL users from ops/redis-acl.txt: the workload passes under them, forbidden commands fail."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from storage_jobs.cli import cli
from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.devstack import SeaweedFS, free_port
from storage_jobs.jobs import CopyJob, DeleteJob, DeletePrefixJob, MigrateJob, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.e2e.test_redis_production import _make_certs, _process, _tls_redis_server
from tests.fixtures_e2e import put_many
from tests.workers import StartInProcess, WorkerProcess, cli_path

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]
ACL_FILE = Path(__file__).resolve().parents[2] / "ops" / "redis-acl.txt"
ADMIN_PASSWORD = "admin-pw-acl-test"
QUEUE = "storage-jobs"  # the queue name the ACL lines are written for
ROLES = ("producer", "worker", "operator")


def acl_lines() -> list[str]:
    """The ``ACL SETUSER`` lines of ops/redis-acl.txt."""
    return [line for line in ACL_FILE.read_text().splitlines() if line.startswith("ACL SETUSER")]


class AclRedis:
    """A TLS-only redis-server with a password for the admin and the ACL users of ops/."""

    def __init__(self, port: int, ca: Path) -> None:
        self.port = port
        self.ca = ca

    def url(self, role: str) -> str:
        """A verified ``rediss://`` URL as the role's user."""
        query = f"?ssl_cert_reqs=required&ssl_check_hostname=true&ssl_ca_certs={self.ca}"
        return f"rediss://storage-jobs-{role}:{role}-pw@127.0.0.1:{self.port}/0{query}"

    def client(self, role: str | None = None) -> redis.Redis:
        """A sync connection as the role's user, or as the admin."""
        user, password = (f"storage-jobs-{role}", f"{role}-pw") if role else (None, ADMIN_PASSWORD)
        return redis.Redis(
            port=self.port,
            username=user,
            password=password,
            ssl=True,
            ssl_ca_certs=str(self.ca),
            ssl_cert_reqs="required",
        )


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[AclRedis]:
    """A private TLS redis-server with the admin's password and the users of ops/redis-acl.txt.

    Without a redis-server built with TLS, or without cryptography, the test fails: never skips.
    """
    server = _tls_redis_server()
    workdir = tmp_path / "acl-redis"
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
        "--requirepass", ADMIN_PASSWORD,
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--logfile", str(workdir / "redis.log"),
    ]  # fmt: skip
    setup = AclRedis(port, ca)
    admin = setup.client()
    with _process(args, admin.ping, "redis-server with TLS"):
        for line in acl_lines():
            for role in ROLES:
                line = line.replace(f"<{role}-password>", f"{role}-pw")
            admin.execute_command(*shlex.split(line))  # type: ignore[no-untyped-call]
        yield setup
        admin.close()


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORAGE_JOBS_REDIS_URL": url, "STORAGE_JOBS_QUEUE_NAME": QUEUE}
    return subprocess.run(
        [cli_path(), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _denials(admin: redis.Redis) -> list[str]:
    entries: list[dict[str, Any]] = admin.acl_log()  # type: ignore[assignment]
    return [f"{e.get('username')}: {e.get('reason')} {e.get('object')}" for e in entries]


async def test_producer_worker_and_operator_run_under_their_acl_users(
    acl_redis: AclRedis,
    start_worker: StartWorker,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """Uploads, a copy, a delete, a migration and a prefix delete pass; no command is denied."""
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await put_many(admin_storage, bucket, [f"src/{i:02d}" for i in range(25)], data=b"m" * 50)
    admin = acl_redis.client()
    worker = start_worker(
        STORAGE_JOBS_REDIS_URL=acl_redis.url("worker"),
        STORAGE_JOBS_QUEUE_NAME=QUEUE,
        STORAGE_JOBS_LEASE_SECONDS="10",
        # Webhooks to a port nobody answers: the events' consumer group runs under the ACL.
        STORAGE_JOBS_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/hook",
        STORAGE_JOBS_WEBHOOK_SECRET="acl-test-webhook-secret",
    )
    producer = Settings(redis_url=acl_redis.url("producer"), queue_name=QUEUE)
    async with StorageJobsClient(settings=producer) as jobs:
        # CONFIG is refused to every role; INFO memory answers the eviction check.
        assert jobs.eviction_policy is not None
        assert (jobs.eviction_policy.policy, jobs.eviction_policy.source) == (
            "noeviction",
            "INFO memory",
        )
        uploads = await jobs.enqueue_many(
            [UploadJob(bucket=bucket, key=f"up/{i}", data=b"u" * 100) for i in range(5)]
        )
        for handle in uploads:
            assert (await handle.result(timeout=60)).size == 100
        copy = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="up/0", dst_key="copied"))
        delete = await jobs.enqueue(DeleteJob(bucket=bucket, keys=["up/1", "up/2"]))
        migrate = await jobs.enqueue(
            MigrateJob(src_bucket=bucket, src_prefix="src/", dst_bucket=dst, batch_size=10)
        )
        await copy.result(timeout=60)
        assert (await delete.result(timeout=60)).deleted_count == 2
        migrated = await migrate.result(timeout=120)
        assert migrated.copied == 25, migrated
        progress = await jobs.progress(migrate.job_id)
        assert progress.done == 25
        wipe = await jobs.enqueue(DeletePrefixJob(bucket=dst, prefix="src/"))
        await wipe.result(timeout=120)
        assert await jobs.status(wipe.job_id) == "complete"

    operator = acl_redis.url("operator")
    for args in (
        ("queue", "--json"),
        ("health",),
        ("status", copy.job_id),
        ("dead-letters", "list", "--json"),
        ("events", "--json"),
    ):
        done = _cli(operator, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr, _denials(admin))
    assert json.loads(_cli(operator, "queue", "--json").stdout)["eviction_policy"]["safe"]
    enqueued = _cli(operator, "enqueue", "upload", bucket, "by-operator", "--data", "op")
    assert enqueued.returncode == 0, (enqueued.stderr, _denials(admin))

    assert worker.running()
    events = [e.get("event") for e in worker.events()]
    assert "redis.eviction_policy" not in events and "housekeeping.failed" not in events
    assert "webhook.retry" in events and "webhook.redis_unavailable" not in events
    # The eviction check tries CONFIG GET first, by design refused; nothing else may be.
    denied = _denials(admin)
    assert {d.split(": ", 1)[0] for d in denied} <= {f"storage-jobs-{r}" for r in ROLES}
    assert {d.split(": ", 1)[1] for d in denied} == {"command config|get"}, denied


async def _ok(url: str, *args: str) -> str:
    """Runs the CLI in this process (a thread: it runs its own loop) as the role of ``url``.

    Returns its stdout, after asserting it succeeded.
    """
    env = {"STORAGE_JOBS_REDIS_URL": url, "STORAGE_JOBS_QUEUE_NAME": QUEUE}
    done = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    assert done.exit_code == 0, (args, done.output, done.exception)
    return done.stdout


async def test_operator_actions_dead_letters_and_heartbeats_run_under_their_acl_users(
    acl_redis: AclRedis,
    start_in_process: StartInProcess,
    admin_storage: StorageClient,
    bucket: str,
    seaweedfs: SeaweedFS,
) -> None:
    """Queue pause/resume, cancel, a job's pause/resume, replay and drop pass: nothing denied.

    The queue is paused first, so the operator acts on jobs that are still queued; a worker's
    dead letter, its heartbeats and a migration's fan-out run under the worker's user.
    """
    dst = f"{bucket}-dst"
    seaweedfs.client().create_bucket(Bucket=dst)
    await put_many(admin_storage, bucket, [f"src/{i}" for i in range(4)], data=b"m")
    admin = acl_redis.client()
    operator = acl_redis.url("operator")
    await _ok(operator, "queue", "pause")
    await start_in_process(
        STORAGE_JOBS_REDIS_URL=acl_redis.url("worker"), STORAGE_JOBS_QUEUE_NAME=QUEUE
    )
    producer = Settings(redis_url=acl_redis.url("producer"), queue_name=QUEUE)
    async with StorageJobsClient(settings=producer) as jobs:
        doomed = await jobs.enqueue(UploadJob(bucket=bucket, key="never", data=b"x"))
        broken = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="missing", dst_key="x"))
        migrate = await jobs.enqueue(
            MigrateJob(src_bucket=bucket, src_prefix="src/", dst_bucket=dst, batch_size=2)
        )
        await _ok(operator, "cancel", doomed.job_id)
        await _ok(operator, "pause", migrate.job_id)
        await _ok(operator, "resume", migrate.job_id)
        await _ok(operator, "queue", "resume")
        assert await jobs.status(doomed.job_id) == JobStatus.CANCELLED
        assert (await migrate.result(timeout=60)).copied == 4
        with pytest.raises(JobFailedError):
            await broken.result(timeout=30)
        letters = json.loads(await _ok(operator, "dead-letters", "list", "--json"))
        assert broken.job_id in json.dumps(letters)
        await _ok(operator, "dead-letters", "replay", broken.job_id)
        with pytest.raises(JobFailedError):
            await broken.result(timeout=30)  # it fails again: a second dead letter
        await _ok(operator, "dead-letters", "drop", broken.job_id)
        assert broken.job_id not in await _ok(operator, "dead-letters", "list", "--json")
        await _ok(operator, "health")
    denied = _denials(admin)
    assert {d.split(": ", 1)[1] for d in denied} <= {"command config|get"}, denied
    admin.close()


async def test_schedules_are_written_by_the_operator_and_fired_by_the_worker(
    acl_redis: AclRedis, start_in_process: StartInProcess, bucket: str
) -> None:
    """Schedules: the operator writes them, the worker fires their ticks, the producer cannot.

    The producer's ``schedule`` is refused with NOPERM and writes nothing.
    """
    admin = acl_redis.client()
    operator = acl_redis.url("operator")
    await start_in_process(
        STORAGE_JOBS_REDIS_URL=acl_redis.url("worker"), STORAGE_JOBS_QUEUE_NAME=QUEUE
    )
    args = ("upload", bucket, "ticked", "--data", "t")
    await _ok(operator, "schedule", "add", "acl-tick", "--every", "1", *args)

    async def runs() -> int:
        listed = json.loads(await _ok(operator, "schedule", "list", "--json"))
        return int(listed[0]["runs"])

    for _ in range(200):  # the worker's ticks, under its own user
        if await runs() >= 2:
            break
        await asyncio.sleep(0.05)
    assert await runs() >= 2
    for verb in ("pause", "resume", "remove"):
        await _ok(operator, "schedule", verb, "acl-tick")
    denied = _denials(admin)
    assert {d.split(": ", 1)[1] for d in denied} <= {"command config|get"}, denied
    producer = Settings(redis_url=acl_redis.url("producer"), queue_name=QUEUE)
    async with StorageJobsClient(settings=producer) as jobs:
        with pytest.raises(redis.exceptions.NoPermissionError):
            await jobs.schedule("by-producer", DeleteJob(bucket=bucket, keys=["k"]), every=60)
    assert json.loads(await _ok(operator, "schedule", "list", "--json")) == []
    admin.close()


@pytest.mark.parametrize("role", ROLES)
def test_forbidden_commands_are_refused(acl_redis: AclRedis, role: str) -> None:
    """FLUSHALL, CONFIG SET/GET, KEYS and keys outside the queue's are refused to each role."""
    client = acl_redis.client(role)
    client.ping()
    forbidden: list[tuple[str, ...]] = [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"),
        ("CONFIG", "GET", "requirepass"),
        ("KEYS", "*"),
        ("SET", "someone-else:key", "x"),
        ("GET", "someone-else:key"),
        ("ACL", "LIST"),
        ("SHUTDOWN", "NOSAVE"),
    ]
    for command in forbidden:
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)  # type: ignore[no-untyped-call]
    admin = acl_redis.client()
    policy: dict[str, str] = admin.config_get("maxmemory-policy")  # type: ignore[assignment]
    assert policy["maxmemory-policy"] == "noeviction"
    client.close()
    admin.close()
