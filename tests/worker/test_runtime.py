"""WorkerRuntime.execute: validation, limits, retry or dead letter, JSON results."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from arq.worker import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

from storage_jobs.jobs import CopyJob, DeleteJob, JobSpec, UploadJob, spec_for_name
from storage_jobs.queue import DeadLetter, DeadLetterStore, Queue, RedisRateLimiter
from storage_jobs.settings import Settings
from storage_jobs.storage import (
    ObjectInfo,
    StorageBackendError,
    StorageClient,
    StorageConfig,
    StorageObjectNotFoundError,
)
from storage_jobs.worker import JobFailure, WorkerRuntime
from tests.jobs.conftest import RecordingLog

COPY = CopyJob(src_bucket="bkt", src_key="src", dst_key="dst")


def spec(name: str) -> JobSpec:
    found = spec_for_name(f"storage_jobs.{name}")
    assert found is not None
    return found


class FakeStorage(StorageClient):
    """A storage client that answers HEAD/COPY from memory, or fails with a chosen error."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__(StorageConfig())
        self.fail = fail
        self.calls: list[str] = []

    async def head_object(
        self, *, bucket: str, key: str, version_id: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(f"head {bucket}/{key}")
        if self.fail is not None:
            raise self.fail
        return {"key": key, "size": 3, "etag": "e", "metadata": {}, "content_type": None}

    async def copy_object(
        self,
        *,
        src_bucket: str,
        src_key: str,
        dst_bucket: str | None = None,
        dst_key: str,
        size: int | None = None,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        src_version_id: str | None = None,
        checksum: Any = None,
        **attributes: Any,
    ) -> ObjectInfo:
        self.calls.append(f"copy {src_bucket}/{src_key} -> {dst_bucket}/{dst_key}")
        return ObjectInfo(bucket=dst_bucket or src_bucket, key=dst_key, size=size or 0, etag="e")

    async def put_bytes(
        self,
        *,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        extra_args: dict[str, Any] | None = None,
        checksum: Any = None,
        **attributes: Any,
    ) -> ObjectInfo:
        self.calls.append(f"put {bucket}/{key}")
        return ObjectInfo(bucket=bucket, key=key, size=len(data), etag="e")


@pytest.fixture
def settings() -> Settings:
    """Explicit settings: 3 tries, no backoff, a small inline cap, a queue of its own."""
    return Settings(
        max_tries=3,
        retry_base_delay=0,
        max_inline_bytes=16,
        queue_name=f"q-{uuid.uuid4().hex[:8]}",
    )


def runtime_with(
    settings: Settings, fake_redis: Any, storage: StorageClient | None = None
) -> tuple[WorkerRuntime, RecordingLog]:
    log = RecordingLog()
    runtime = WorkerRuntime(
        settings=settings,
        storage=storage or FakeStorage(),
        queue=Queue(fake_redis, settings.queue_name),
        log=log,
    )
    return runtime, log


def arq_ctx(attempt: int = 1) -> dict[str, Any]:
    return {"job_id": uuid.uuid4().hex, "job_try": attempt}


async def dead_letter(runtime: WorkerRuntime, ctx: dict[str, Any]) -> DeadLetter:
    letter = await runtime.queue.dead_letters.get(ctx["job_id"])
    assert letter is not None
    return letter


@pytest.mark.parametrize(
    ("kind", "args", "kwargs", "kept_payload"),
    [
        ("delete", ("not json at all",), {}, "not json at all"),
        ("delete", (COPY.model_dump_json(),), {}, COPY.model_dump_json()),
        ("copy", ('{"kind": "copy", "src_bucket": "BAD"}',), {}, None),
        ("copy", (COPY.model_dump_json(), "extra"), {}, COPY.model_dump_json()),
        ("copy", (COPY.model_dump_json(),), {"force": True}, COPY.model_dump_json()),
        ("copy", (), {}, None),
        ("copy", ({"kind": "copy"},), {}, None),
        ("upload", (UploadJob(bucket="bkt", key="k", data=b"x" * 17).model_dump_json(),), {}, None),
    ],
    ids=[
        "garbage",
        "wrong-kind",
        "invalid-fields",
        "extra-arg",
        "kwargs",
        "no-args",
        "not-a-string",
        "over-limit",
    ],
)
async def test_invalid_payload_is_dead_lettered(
    settings: Settings,
    fake_redis: Any,
    kind: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    kept_payload: str | None,
) -> None:
    """Unreadable, mismatched or over-limit payloads fail as InvalidPayload without running."""
    storage = FakeStorage()
    runtime, log = runtime_with(settings, fake_redis, storage)
    ctx = arq_ctx(attempt=1)
    with pytest.raises(JobFailure) as info:
        await runtime.execute(spec(kind), ctx, args, kwargs)
    assert info.value.error_type == "InvalidPayload"
    assert storage.calls == []
    letter = await dead_letter(runtime, ctx)
    assert (letter.error_type, letter.function, letter.attempts) == (
        "InvalidPayload",
        f"storage_jobs.{kind}",
        1,
    )
    if kept_payload is not None:
        assert letter.payload == kept_payload
    if args and isinstance(args[0], str):
        assert letter.raw_payload() == args[0].encode()
    else:
        assert letter.payload is None
    (failed,) = log.named("job.failed")
    assert failed["dead_letter"] is True
    assert failed["job_id"] == ctx["job_id"]


async def test_over_limit_names_the_field(settings: Settings, fake_redis: Any) -> None:
    """A limit breach says which field and which setting in the failure message."""
    runtime, _ = runtime_with(settings, fake_redis)
    payload = UploadJob(bucket="bkt", key="k", data=b"x" * 17).model_dump_json()
    with pytest.raises(JobFailure, match=r"^data: .*STORAGE_JOBS_MAX_INLINE_BYTES"):
        await runtime.execute(spec("upload"), arq_ctx(), (payload,), {})


async def test_a_stored_payload_over_the_byte_cap_fails_clearly(
    settings: Settings, fake_redis: Any
) -> None:
    """Re-checked by the worker on the bytes stored (a producer with a higher cap wrote it)."""
    capped = settings.model_copy(update={"max_payload_bytes": 1024})
    runtime, log = runtime_with(capped, fake_redis)
    payload = DeleteJob(bucket="bkt", keys=[f"key-{n}" for n in range(200)]).model_dump_json()
    with pytest.raises(JobFailure, match=r"^payload: .*STORAGE_JOBS_MAX_PAYLOAD_BYTES") as info:
        await runtime.execute(spec("delete"), arq_ctx(), (payload,), {})
    assert info.value.error_type == "InvalidPayload"
    (failed,) = log.named("job.failed")
    assert failed["dead_letter"] is True


async def test_validation_message_has_locations_not_values(
    settings: Settings, fake_redis: Any
) -> None:
    """The failure names the broken field but never echoes the (possibly huge) input."""
    runtime, _ = runtime_with(settings, fake_redis)
    payload = DeleteJob.model_construct(bucket="Bad_" + "x" * 40, keys=["k"]).model_dump_json()
    with pytest.raises(JobFailure) as info:
        await runtime.execute(spec("delete"), arq_ctx(), (payload,), {})
    assert info.value.message.startswith("bucket: ")
    assert "Bad_" not in info.value.message


@pytest.mark.parametrize(
    "error",
    [
        StorageBackendError("slow down", code="SlowDown", status=503),
        StorageBackendError("reset", code="NetworkError"),
        RedisConnectionError("redis went away"),
        ConnectionResetError("reset by peer"),
    ],
    ids=["SlowDown", "NetworkError", "redis", "os-connection"],
)
async def test_transient_failure_with_attempts_left_retries(
    settings: Settings, fake_redis: Any, error: Exception
) -> None:
    """A transient failure before the last attempt raises arq's Retry; no dead letter."""
    runtime, log = runtime_with(settings, fake_redis, FakeStorage(fail=error))
    ctx = arq_ctx(attempt=2)
    with pytest.raises(Retry) as info:
        await runtime.execute(spec("copy"), ctx, (COPY.model_dump_json(),), {})
    assert info.value.defer_score == 0
    assert await DeadLetterStore(fake_redis, settings.queue_name).get(ctx["job_id"]) is None
    (retry,) = log.named("job.retry")
    assert retry["attempt"] == 2


async def test_retry_delay_follows_the_job_policy(settings: Settings, fake_redis: Any) -> None:
    """The Retry defer comes from retry_base_delay with equal jitter (attempt 2: 2-4 s)."""
    slow = settings.model_copy(update={"retry_base_delay": 2.0})
    runtime, _ = runtime_with(
        slow, fake_redis, FakeStorage(fail=StorageBackendError("x", status=500))
    )
    with pytest.raises(Retry) as info:
        await runtime.execute(spec("copy"), arq_ctx(attempt=2), (COPY.model_dump_json(),), {})
    assert info.value.defer_score is not None
    assert 2000 <= info.value.defer_score <= 4000


async def test_transient_failure_at_last_attempt_is_dead_lettered(
    settings: Settings, fake_redis: Any
) -> None:
    """At attempt max_tries a transient failure is final: JobFailure and a dead letter."""
    error = StorageBackendError("slow down", code="SlowDown", status=503)
    runtime, _ = runtime_with(settings, fake_redis, FakeStorage(fail=error))
    ctx = arq_ctx(attempt=settings.max_tries)
    with pytest.raises(JobFailure) as info:
        await runtime.execute(spec("copy"), ctx, (COPY.model_dump_json(),), {})
    assert (info.value.error_type, info.value.code, info.value.message) == (
        "StorageBackendError",
        "SlowDown",
        "slow down",
    )
    letter = await dead_letter(runtime, ctx)
    assert (letter.error_type, letter.code, letter.attempts) == (
        "StorageBackendError",
        "SlowDown",
        3,
    )
    assert letter.raw_payload() == COPY.model_dump_json().encode()


async def test_permanent_failure_is_dead_lettered_at_once(
    settings: Settings, fake_redis: Any
) -> None:
    """NoSuchKey is final on the first attempt, with its code in the dead letter."""
    error = StorageObjectNotFoundError("object not found: bkt/src", bucket="bkt", key="src")
    runtime, log = runtime_with(settings, fake_redis, FakeStorage(fail=error))
    ctx = arq_ctx(attempt=1)
    with pytest.raises(JobFailure) as info:
        await runtime.execute(spec("copy"), ctx, (COPY.model_dump_json(),), {})
    assert (info.value.error_type, info.value.code) == ("StorageObjectNotFoundError", "NoSuchKey")
    letter = await dead_letter(runtime, ctx)
    assert (letter.code, letter.attempts, letter.function) == ("NoSuchKey", 1, "storage_jobs.copy")
    assert log.named("job.retry") == []


async def test_bug_in_handler_is_not_retried(settings: Settings, fake_redis: Any) -> None:
    """An unexpected exception is final (retrying a bug helps nobody)."""
    runtime, _ = runtime_with(settings, fake_redis, FakeStorage(fail=KeyError("size")))
    ctx = arq_ctx(attempt=1)
    with pytest.raises(JobFailure) as info:
        await runtime.execute(spec("copy"), ctx, (COPY.model_dump_json(),), {})
    assert info.value.error_type == "KeyError"
    assert (await dead_letter(runtime, ctx)).error_type == "KeyError"


async def test_success_returns_json_result(settings: Settings, fake_redis: Any) -> None:
    """A successful job returns its result model as JSON-ready data and logs start/done."""
    storage = FakeStorage()
    runtime, log = runtime_with(settings, fake_redis, storage)
    ctx = arq_ctx(attempt=1)
    result = await runtime.execute(spec("copy"), ctx, (COPY.model_dump_json(),), {})
    assert result == {
        "kind": "copy",
        "src_bucket": "bkt",
        "src_key": "src",
        "dst_bucket": "bkt",
        "dst_key": "dst",
        "skipped": False,
        "lost": [],
    }
    assert storage.calls == ["head bkt/src", "copy bkt/src -> bkt/dst"]
    (start,) = log.named("job.start")
    assert (start["kind"], start["bucket"], start["dst_key"]) == ("copy", "bkt", "dst")
    (done,) = log.named("job.done")
    assert done["skipped"] is False
    assert await DeadLetterStore(fake_redis, settings.queue_name).count() == 0


async def test_inline_data_is_never_logged(settings: Settings, fake_redis: Any) -> None:
    """job.start logs the size of inline data, not the bytes."""
    runtime, log = runtime_with(settings, fake_redis)
    payload = UploadJob(bucket="bkt", key="k", data=b"TOPSECRET").model_dump_json()
    result = await runtime.execute(spec("upload"), arq_ctx(), (payload,), {})
    assert result == {"kind": "upload", "bucket": "bkt", "key": "k", "size": 9, "etag": "e"}
    (start,) = log.named("job.start")
    assert (start["bytes"], start["from_path"]) == (9, False)
    assert "TOPSECRET" not in repr(log.events)


async def test_source_profiles_share_the_workers_rate_limiter(fake_redis: Any) -> None:
    """A migration's source client waits for the same limiter (limits go by bucket name)."""
    settings = Settings(
        queue_name=f"q-{uuid.uuid4().hex[:8]}",
        s3_rate_limits={"*": 50.0},
        source_profiles={"old": {"endpoint_url": "http://127.0.0.1:1"}},
    )
    limiter = RedisRateLimiter(fake_redis, settings.queue_name, settings.rate_limits())
    runtime, _ = runtime_with(settings, fake_redis, StorageClient(StorageConfig(), limiter=limiter))
    try:
        source = await runtime.source("old")
        assert source.limiter is limiter
        assert source.config.endpoint_url == "http://127.0.0.1:1"
    finally:
        await runtime.close()


async def test_a_dead_letter_keeps_the_priority_the_job_was_enqueued_with(
    settings: Settings, fake_redis: Any
) -> None:
    """The claim's ``priority`` (the envelope's ``"p"``) is kept, so a replay goes to that lane."""
    runtime, _ = runtime_with(settings, fake_redis)
    ctx = {**arq_ctx(), "priority": "high"}
    with pytest.raises(JobFailure):
        await runtime.execute(spec("copy"), ctx, ("not json",), {})
    assert (await dead_letter(runtime, ctx)).priority == "high"
    plain = arq_ctx()
    with pytest.raises(JobFailure):
        await runtime.execute(spec("copy"), plain, ("not json",), {})
    assert (await dead_letter(runtime, plain)).priority is None
