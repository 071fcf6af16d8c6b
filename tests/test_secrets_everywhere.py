"""The S3 secret key and the Redis password appear nowhere: logs, Redis, errors, CLI, reprs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import FaultProxy, RedisServer, SeaweedFS
from storage_jobs.jobs import CopyJob, DeleteJob, JobRejectedError, UploadJob
from storage_jobs.queue import DeadLetterStore
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess, cli_path

# Characters that must be percent-encoded in a URL, so both forms differ.
REDIS_PASSWORD = "Pw-7f3Qz/k:9@x%y#q+zq"
ENCODED_PASSWORD = quote(REDIS_PASSWORD, safe="")


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server that wants a password."""
    server = RedisServer(tmp_path / "redis", extra_args=("--requirepass", REDIS_PASSWORD))
    server.start()
    yield server
    server.stop()


def _url(server: RedisServer) -> str:
    return f"redis://:{ENCODED_PASSWORD}@127.0.0.1:{server.port}/0"


def _secrets(seaweedfs: SeaweedFS) -> dict[str, str]:
    assert seaweedfs.secret_key is not None
    return {
        "s3 secret": seaweedfs.secret_key,
        "s3 secret (encoded)": quote(seaweedfs.secret_key, safe=""),
        "redis password": REDIS_PASSWORD,
        "redis password (encoded)": ENCODED_PASSWORD,
    }


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


async def _everything_in(redis: aioredis.Redis) -> str:
    """Every key and value of the database, as text."""
    parts: list[str] = []
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        value: Any
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)  # type: ignore[misc]
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)  # type: ignore[misc]
        elif kind == "set":
            value = await redis.smembers(key)  # type: ignore[misc]
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        else:
            value = kind
        parts.append(f"{key!r} {value!r}")
    return "\n".join(parts)


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [cli_path(), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return f"{done.returncode}\n{done.stdout}\n{done.stderr}"


@pytest.mark.integration
async def test_no_secret_anywhere(
    locked_redis: RedisServer,
    seaweedfs: SeaweedFS,
    fault_proxy: FaultProxy,
    admin_storage: StorageClient,
    bucket: str,
    tmp_path: Path,
) -> None:
    """Uploads, a dead letter, a partial delete and a bad payload: no secret in any output."""
    secrets = _secrets(seaweedfs)
    queue = f"secrets-{uuid.uuid4().hex[:8]}"
    url = _url(locked_redis)
    env = {
        "STORAGE_JOBS_REDIS_URL": url,
        "STORAGE_JOBS_QUEUE_NAME": queue,
        "STORAGE_JOBS_S3_ENDPOINT_URL": fault_proxy.url,
        "STORAGE_JOBS_S3_ACCESS_KEY_ID": seaweedfs.access_key or "",
        "STORAGE_JOBS_S3_SECRET_ACCESS_KEY": seaweedfs.secret_key or "",
        "STORAGE_JOBS_RETRY_BASE_DELAY": "0.1",
        "STORAGE_JOBS_LOG_LEVEL": "DEBUG",
    }
    await admin_storage.upload_file(bucket=bucket, key="keep/denied", data=b"x")
    await admin_storage.upload_file(bucket=bucket, key="gone/1", data=b"x")
    fault_proxy.rules.delete_errors = {"keep/denied": "AccessDenied"}
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    errors: list[str] = []
    settings = Settings(redis_url=url, queue_name=queue)
    try:
        async with StorageJobsClient(settings=settings) as jobs:
            uploads = await jobs.enqueue_many(
                [UploadJob(bucket=bucket, key=f"up/{i}", data=b"data") for i in range(3)]
            )
            bad_copy = await jobs.enqueue(
                CopyJob(src_bucket=bucket, src_key="missing", dst_key="copy")
            )
            partial = await jobs.enqueue(DeleteJob(bucket=bucket, keys=["gone/1", "keep/denied"]))
            raw = (
                b'{"t":1,"f":"storage_jobs.upload","a":["{\\"kind\\":\\"upload\\"}"],"k":{},"et":0}'
            )
            await jobs.redis.psetex(jobs.keys.job("bad-payload"), 60_000, raw)
            await jobs.redis.zadd(queue, {"bad-payload": int(time.time() * 1000)})
            await jobs.redis.lpush(jobs.keys.wake, "1")  # type: ignore[misc]

            for handle in uploads:
                assert (await handle.result(timeout=30)).size == 4
            deleted = await partial.result(timeout=30)
            assert [f.code for f in deleted.failed] == ["AccessDenied"]
            errors.append(repr(deleted))
            for handle in [bad_copy, jobs.handle("bad-payload")]:
                with pytest.raises(JobFailedError) as info:
                    await handle.result(timeout=30)
                errors.extend([str(info.value), repr(info.value.args), info.value.message])
            # Errors the client raises before anything is enqueued.
            limited = StorageJobsClient.on_connection(
                jobs.redis, settings.model_copy(update={"max_inline_bytes": 1})
            )
            with pytest.raises(JobRejectedError) as rejected:
                await limited.enqueue(UploadJob(bucket=bucket, key="k", data=b"xx"))
            errors.append(str(rejected.value))
            with pytest.raises(ValidationError) as invalid:
                UploadJob(bucket="Bad_Bucket", key="k", data=b"x")
            errors.append(str(invalid.value))

            letters = await DeadLetterStore(jobs.redis, queue).list()
            assert {d.job_id for d in letters} == {bad_copy.job_id, "bad-payload"}
            errors.extend(d.model_dump_json() for d in letters)
            stored = await _everything_in(jobs.redis)
    finally:
        worker.stop()

    # Connection failures: a wrong password, an unreachable port.
    wrong = Settings(redis_url=url.replace(ENCODED_PASSWORD, "not-" + ENCODED_PASSWORD))
    closed = Settings(redis_url=f"redis://:{ENCODED_PASSWORD}@127.0.0.1:1/0")
    for bad in [wrong, closed]:
        with pytest.raises(Exception) as failed:  # noqa: PT011 - any connection error
            async with StorageJobsClient(settings=bad) as client:
                await client.status("x")
        errors.append(f"{type(failed.value).__name__}: {failed.value!r} {failed.value}")

    # Side by side: each run spends seconds importing, little else.
    cli_outputs = await asyncio.gather(
        asyncio.to_thread(_cli, env, "queue", "--json"),
        asyncio.to_thread(_cli, env, "dead-letters", "list", "--json"),
        asyncio.to_thread(_cli, env, "dead-letters", "show", bad_copy.job_id, "--json"),
        asyncio.to_thread(_cli, env, "result", bad_copy.job_id, "--json"),
        asyncio.to_thread(
            _cli, {**env, "STORAGE_JOBS_REDIS_URL": closed.redis_url.get_secret_value()}, "queue"
        ),
    )
    # The outputs hold what they should (so the grep below has something to look at).
    assert [o.split("\n", 1)[0] for o in cli_outputs] == ["0", "0", "0", "1", "4"]
    assert bad_copy.job_id in cli_outputs[1] and "NoSuchKey" in cli_outputs[2]
    assert bad_copy.job_id in stored and "bad-payload" in stored
    log = worker.log_path.read_text(errors="replace")
    assert "job.failed" in log and "delete.partial_failure" in log

    assert _leaks(log, secrets) == [], "worker log"
    assert _leaks(stored, secrets) == [], "Redis"
    assert [(e, _leaks(e, secrets)) for e in errors if _leaks(e, secrets)] == []
    assert [(o, _leaks(o, secrets)) for o in cli_outputs if _leaks(o, secrets)] == []


def test_reprs_hold_no_secret() -> None:
    """``repr``/``str`` of Settings and StorageJobsClient show neither secret nor password."""
    secret = "S3-secret-" + uuid.uuid4().hex
    url = f"redis://user:{ENCODED_PASSWORD}@redis.example:6380/2"
    settings = Settings(redis_url=url, s3_secret_access_key=secret, s3_session_token=secret)
    client = StorageJobsClient(settings=settings)
    forms = {
        "repr(settings)": repr(settings),
        "str(settings)": str(settings),
        "settings json": settings.model_dump_json(),
        "repr(client)": repr(client),
        "str(client)": str(client),
        "redacted url": settings.redis_url_redacted,
    }
    for name, text in forms.items():
        assert secret not in text, name
        assert REDIS_PASSWORD not in text, name
        assert ENCODED_PASSWORD not in text, name
    assert "redis.example:6380" in forms["repr(client)"]
