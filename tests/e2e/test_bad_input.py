"""Bad input matrix: every refusal names the field, and nothing is written to Redis.

Wrong types, missing fields, bad keys and prefixes, escaping paths, caps, garbage in Redis and a
million-key delete.

Complements ``tests/jobs/test_models.py`` (naming rules, data/path, metadata) and
``tests/e2e/test_security.py`` (pickles, garbage, unknown kinds, limit breaches at enqueue).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import RedisServer
from storage_jobs.jobs import (
    CopyJob,
    DeleteJob,
    DeletePrefixJob,
    DeleteResult,
    JobModel,
    JobRejectedError,
    MigrateJob,
    UploadJob,
)
from storage_jobs.queue import MAX_KEPT_PAYLOAD, DeadLetterStore
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient
from tests.workers import WorkerProcess

pytestmark = pytest.mark.integration

StartWorker = Callable[..., WorkerProcess]
MiB = 1024 * 1024
BIG_DELETE_KEYS = 1_000_000
# Keys of the delete a worker runs: a million took 140 s on a loaded 2-core machine, so 200,000
# by default; STORAGE_JOBS_BIG_DELETE_RUN_KEYS=1000000 runs the whole million.
RUN_DELETE_KEYS = int(os.environ.get("STORAGE_JOBS_BIG_DELETE_RUN_KEYS", "200000"))

BASE: dict[type[JobModel], dict[str, Any]] = {
    UploadJob: {"bucket": "bkt", "key": "k", "data": b"x"},
    CopyJob: {"src_bucket": "bkt", "src_key": "a", "dst_key": "b"},
    DeleteJob: {"bucket": "bkt", "keys": ["a"]},
    MigrateJob: {"src_bucket": "bkt", "src_prefix": "a/", "dst_bucket": "dst"},
    DeletePrefixJob: {"bucket": "bkt", "prefix": "p/"},
}


@pytest.fixture
async def client(private_redis: RedisServer, queue_name: str) -> AsyncIterator[StorageJobsClient]:
    """A producer on the private Redis with default limits."""
    settings = Settings(redis_url=private_redis.url, queue_name=queue_name)
    async with StorageJobsClient(settings=settings) as jobs:
        yield jobs


async def _all_keys(jobs: StorageJobsClient) -> set[bytes]:
    return set(await jobs.redis.keys("*"))


def _fields(info: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {str(e["loc"][0]) for e in info.value.errors() if e["loc"]}


# -- wrong types and missing fields -----------------------------------------------------------

WRONG_TYPES: list[tuple[type[JobModel], str, Any]] = [
    (UploadJob, "bucket", 123),
    (UploadJob, "key", 123),
    (UploadJob, "key", None),
    (UploadJob, "data", 123),
    (UploadJob, "data", ["x"]),
    (UploadJob, "data", memoryview(b"x")),
    (UploadJob, "content_type", 5),
    (UploadJob, "metadata", [("a", "b")]),
    (UploadJob, "metadata", {"a": 1}),
    (CopyJob, "src_bucket", 1),
    (CopyJob, "src_key", 1.5),
    (CopyJob, "src_key", b"\xff\xfe"),
    (CopyJob, "dst_key", []),
    (CopyJob, "dst_bucket", 1),
    (CopyJob, "skip_if_identical", "maybe"),
    (CopyJob, "skip_if_identical", 2),
    (DeleteJob, "bucket", ["bkt"]),
    (DeleteJob, "keys", "abc"),
    (DeleteJob, "keys", b"abc"),
    (DeleteJob, "keys", {"a": 1}),
    (DeleteJob, "keys", [1, 2]),
    (DeleteJob, "keys", [None]),
    (DeleteJob, "keys", None),
    (MigrateJob, "src_bucket", 1),
    (MigrateJob, "src_prefix", 1),
    (MigrateJob, "dst_bucket", None),
    (MigrateJob, "dst_prefix", ["x"]),
    (MigrateJob, "src_endpoint", 5),
    (MigrateJob, "src_endpoint", "../other"),
    (MigrateJob, "dry_run", "perhaps"),
    (MigrateJob, "skip_if_identical", 3),
    (MigrateJob, "batch_size", "many"),
    (MigrateJob, "batch_size", 5.5),
    (MigrateJob, "batch_size", 0),
    (MigrateJob, "batch_size", 1001),
    (MigrateJob, "report", "everything"),
    (DeletePrefixJob, "bucket", 1),
    (DeletePrefixJob, "prefix", 1),
    (DeletePrefixJob, "prefix", None),
    (DeletePrefixJob, "dry_run", "perhaps"),
    (DeletePrefixJob, "batch_size", -1),
    (DeletePrefixJob, "report", 1),
]


@pytest.mark.parametrize(
    ("model", "field", "value"),
    WRONG_TYPES,
    # A memoryview's repr carries its address: the id names its type instead (every process
    # that collects the tests, as pytest-xdist's workers do, must build the same ids).
    ids=[
        f"{m.__name__}.{f}=" + ("memoryview" if isinstance(v, memoryview) else repr(v))[:40]
        for m, f, v in WRONG_TYPES
    ],
)
def test_wrong_types_name_the_field(model: type[JobModel], field: str, value: Any) -> None:
    """A value of the wrong type (or out of range) fails on exactly that field."""
    with pytest.raises(ValidationError) as info:
        model(**{**BASE[model], field: value})
    assert _fields(info) == {field}


REQUIRED = [
    (model, field)
    for model, base in BASE.items()
    for field in base
    if model.model_fields[field].is_required()
]


@pytest.mark.parametrize(
    ("model", "field"), REQUIRED, ids=[f"{m.__name__}-{f}" for m, f in REQUIRED]
)
def test_missing_required_fields_name_the_field(model: type[JobModel], field: str) -> None:
    """Leaving out a required field fails with ``missing`` on that field (JSON payloads too)."""
    fields = {k: v for k, v in BASE[model].items() if k != field}
    with pytest.raises(ValidationError) as info:
        model(**fields)
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [((field,), "missing")]
    payload = json.loads(model(**BASE[model]).model_dump_json())
    del payload[field]
    with pytest.raises(ValidationError) as again:
        model.model_validate_json(json.dumps(payload))
    assert _fields(again) == {field}


def test_lax_coercions_that_are_kept() -> None:
    """Pydantic's lax input is kept: bytearray data, UTF-8 bytes for str, tuples, "yes", "5"."""
    assert CopyJob(src_bucket="bkt", src_key=b"a", dst_key="b").src_key == "a"
    assert UploadJob(bucket="bkt", key="k", data=bytearray(b"ab")).data == b"ab"
    assert DeleteJob(bucket="bkt", keys=("a", "b")).keys == ["a", "b"]
    assert CopyJob(src_bucket="bkt", src_key="a", dst_key="b", skip_if_identical="yes")
    assert MigrateJob(src_bucket="bkt", dst_bucket="dst", batch_size="5").batch_size == 5


def test_json_data_must_be_base64() -> None:
    """On the wire ``data`` is base64: plain text that is not valid base64 fails on ``data``."""
    raw = json.dumps({"kind": "upload", "bucket": "bkt", "key": "k", "data": "hello"})
    with pytest.raises(ValidationError, match="base64") as info:
        UploadJob.model_validate_json(raw)
    assert _fields(info) == {"data"}


@pytest.mark.parametrize("text", ["hello", "données"])
def test_str_data_that_is_not_base64_is_refused(text: str) -> None:
    """In Python any str ``data`` fails on ``data``, asking for bytes."""
    with pytest.raises(ValidationError, match="must be bytes") as info:
        UploadJob(bucket="bkt", key="k", data=text)
    assert _fields(info) == {"data"}


@pytest.mark.parametrize("text", ["test", "data", "QUJD"])
def test_str_data_is_never_silently_decoded(text: str) -> None:
    """A str for ``data`` is refused naming ``data``, never turned into other bytes."""
    with pytest.raises(ValidationError) as info:
        UploadJob(bucket="bkt", key="k", data=text)
    assert _fields(info) == {"data"}


# -- keys and prefixes ------------------------------------------------------------------------

BAD_KEYS = ["", "k" * 1025, "é" * 513, "a\x00b", "a\x1fb", "\ud800"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=["empty", "1025", "1026-bytes", "nul", "ctl", "lone"])
def test_bad_delete_keys_name_their_index(key: str) -> None:
    """An empty, oversize or NUL key among good ones fails on ``keys.<index>`` only."""
    with pytest.raises(ValidationError) as info:
        DeleteJob(bucket="bkt", keys=["good", "also/good", key])
    assert [e["loc"] for e in info.value.errors()] == [("keys", 2)]


PREFIX_FIELDS = [
    (MigrateJob, "src_prefix"),
    (MigrateJob, "dst_prefix"),
    (DeletePrefixJob, "prefix"),
]


@pytest.mark.parametrize(
    ("model", "field"), PREFIX_FIELDS, ids=[f"{m.__name__}.{f}" for m, f in PREFIX_FIELDS]
)
@pytest.mark.parametrize("prefix", ["p" * 1025, "\ud800"], ids=["1025-chars", "lone-surrogate"])
def test_bad_prefixes_are_refused(model: type[JobModel], field: str, prefix: str) -> None:
    """Prefixes over 1024 characters or not UTF-8 fail on the prefix field."""
    with pytest.raises(ValidationError) as info:
        model(**{**BASE[model], field: prefix})
    assert _fields(info) == {field}


def test_empty_delete_prefix_is_refused() -> None:
    """A DeletePrefixJob with an empty prefix (the whole bucket) is refused on ``prefix``."""
    with pytest.raises(ValidationError) as info:
        DeletePrefixJob(bucket="bkt", prefix="")
    assert _fields(info) == {"prefix"}


@pytest.mark.parametrize(
    ("model", "field"), PREFIX_FIELDS, ids=[f"{m.__name__}.{f}" for m, f in PREFIX_FIELDS]
)
@pytest.mark.parametrize("prefix", ["a\x00b/", "a\x1f/", "é" * 600], ids=["nul", "ctl", "bytes"])
def test_prefixes_follow_key_rules(model: type[JobModel], field: str, prefix: str) -> None:
    """A prefix holding NUL/control characters or over 1024 UTF-8 bytes is refused."""
    with pytest.raises(ValidationError) as info:
        model(**{**BASE[model], field: prefix})
    assert _fields(info) == {field}


# -- paths through the client, with upload roots ----------------------------------------------


async def test_escaping_paths_are_refused_at_enqueue(
    client: StorageJobsClient, tmp_path: Path
) -> None:
    """Paths escaping the upload roots (.., symlinked dirs, siblings, dirs, FIFOs): refused."""
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "ok.txt").write_text("fine")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "zero").symlink_to("/dev/zero")
    sibling = tmp_path / "root-evil"
    sibling.mkdir()
    (sibling / "f.txt").write_text("x")
    os.mkfifo(root / "fifo")
    (tmp_path / "elsewhere.txt").write_text("x")
    limited = client.settings.model_copy(update={"upload_roots": [root.resolve()]})
    jobs = StorageJobsClient.on_connection(client.redis, limited)
    before = await _all_keys(client)
    construct = [
        str(root / ".." / "outside" / "secret.txt"),  # '..' part
        "root/ok.txt",  # relative
        str(root / "ok.txt") + "\x00.png",  # NUL
    ]
    for path in construct:
        with pytest.raises(ValidationError) as info:
            UploadJob(bucket="bkt", key="k", path=path)
        assert _fields(info) == {"path"}, path
    enqueue = [
        root / "linkdir" / "secret.txt",  # symlinked directory pointing outside
        root / "zero",  # symlink to a device outside
        sibling / "f.txt",  # sibling whose name starts with the root's
        root / "dir",  # a directory
        root / "fifo",  # not a regular file
        tmp_path / "elsewhere.txt",  # absolute, elsewhere
    ]
    for escaping in enqueue:
        with pytest.raises(JobRejectedError) as rejected:
            await jobs.enqueue(UploadJob(bucket="bkt", key="k", path=str(escaping)))
        assert rejected.value.field == "path", escaping
        assert str(rejected.value).startswith("path: ")
    # Without upload roots, no path upload at all.
    with pytest.raises(JobRejectedError, match="STORAGE_JOBS_UPLOAD_ROOTS") as disabled:
        await client.enqueue(UploadJob(bucket="bkt", key="k", path=str(root / "ok.txt")))
    assert disabled.value.field == "path"
    assert await _all_keys(client) == before
    accepted = await jobs.enqueue(UploadJob(bucket="bkt", key="k", path=str(root / "ok.txt")))
    assert accepted.enqueued


async def test_inline_data_cap_at_the_default(client: StorageJobsClient) -> None:
    """5 MiB of inline data is accepted by default; one byte more is refused naming ``data``."""
    before = await _all_keys(client)
    with pytest.raises(JobRejectedError, match="STORAGE_JOBS_MAX_INLINE_BYTES") as info:
        await client.enqueue(UploadJob(bucket="bkt", key="k", data=b"\0" * (5 * MiB + 1)))
    assert info.value.field == "data"
    assert await _all_keys(client) == before
    handle = await client.enqueue(UploadJob(bucket="bkt", key="k", data=b"\0" * (5 * MiB)))
    assert handle.enqueued


async def test_delete_over_a_configured_cap_is_refused(client: StorageJobsClient) -> None:
    """Over ``max_delete_keys`` a DeleteJob is refused naming ``keys``; a batch with it too."""
    capped = StorageJobsClient.on_connection(
        client.redis, client.settings.model_copy(update={"max_delete_keys": 1000})
    )
    before = await _all_keys(client)
    too_many = DeleteJob(bucket="bkt", keys=[f"k{i}" for i in range(1001)])
    with pytest.raises(JobRejectedError) as info:
        await capped.enqueue(too_many)
    assert info.value.field == "keys"
    assert "1001 keys, over the 1000 key cap" in str(info.value)
    with pytest.raises(JobRejectedError):
        await capped.enqueue_many([DeleteJob(bucket="bkt", keys=["a"]), too_many])
    assert await _all_keys(client) == before
    assert (await capped.enqueue(DeleteJob(bucket="bkt", keys=too_many.keys[:1000]))).enqueued


# -- garbage straight into Redis --------------------------------------------------------------


async def _write_raw(jobs: StorageJobsClient, job_id: str, raw: bytes) -> None:
    await jobs.redis.psetex(jobs.keys.job(job_id), 120_000, raw)
    await jobs.redis.zadd(jobs.queue_name, {job_id: int(time.time() * 1000)})
    await jobs.redis.lpush(jobs.keys.wake, "1")  # type: ignore[misc]


def _envelope(function: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"t": 1, "f": function, "a": args, "k": kwargs or {}, "et": 0}).encode()


async def test_mismatched_and_huge_payloads_are_dead_lettered(
    start_worker: StartWorker,
    private_redis: RedisServer,
    client: StorageJobsClient,
    admin_storage: StorageClient,
    bucket: str,
) -> None:
    """Another kind's payload, 5 MB of garbage, bad envelopes: dead letters, never run."""
    worker = start_worker(STORAGE_JOBS_REDIS_URL=private_redis.url)
    upload = UploadJob(bucket=bucket, key="must-not-exist", data=b"x").model_dump_json()
    cases = {
        "delete-fn-upload-payload": _envelope("storage_jobs.delete", [upload]),
        "copy-fn-upload-payload": _envelope("storage_jobs.copy", [upload]),
        "payload-as-object": _envelope("storage_jobs.upload", [json.loads(upload)]),
        "two-payloads": _envelope("storage_jobs.upload", [upload, upload]),
        "with-kwargs": _envelope("storage_jobs.upload", [upload], {"force": True}),
        "huge-garbage": os.urandom(5 * MiB),
        "huge-json-garbage": _envelope("storage_jobs.upload", ["x" * (5 * MiB)]),
    }
    for job_id, raw in cases.items():
        await _write_raw(client, job_id, raw)
    store = DeadLetterStore(client.redis, client.queue_name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and await store.count() < len(cases):
        await asyncio.sleep(0.1)
    letters = {d.job_id: d for d in await store.list()}
    assert set(letters) == set(cases)
    assert {d.error_type for d in letters.values()} == {"InvalidPayload"}
    for job_id in ("huge-garbage", "huge-json-garbage"):
        assert letters[job_id].payload_truncated
        assert len(letters[job_id].raw_payload() or b"") <= MAX_KEPT_PAYLOAD
    assert "kind" in letters["delete-fn-upload-payload"].message
    for job_id in cases:
        with pytest.raises(JobFailedError) as info:
            await client.handle(job_id).result(timeout=5)
        # Payloads arq cannot decode carry arq's error type in the result (see the report).
        assert info.value.error_type in {"InvalidPayload", "DeserializationError"}, job_id
        print(job_id, info.value.error_type, info.value.message[:80])
    assert not await admin_storage.file_exists(bucket=bucket, key="must-not-exist")
    ok = await client.enqueue(UploadJob(bucket=bucket, key="after", data=b"ok"))
    assert (await ok.result(timeout=30)).size == 2
    assert worker.running()
    assert not [
        e for e in worker.events() if e.get("event") == "job.start" and e["kind"] != "upload"
    ]


async def test_undecodable_payload_fails_as_invalid_payload(
    start_worker: StartWorker, private_redis: RedisServer, client: StorageJobsClient
) -> None:
    """The client sees the dead letter's error type (InvalidPayload) for a garbage payload."""
    start_worker(STORAGE_JOBS_REDIS_URL=private_redis.url)
    await _write_raw(client, "garbage", b"\x80\x04 not json")
    with pytest.raises(JobFailedError) as info:
        await client.handle("garbage").result(timeout=30)
    letter = await DeadLetterStore(client.redis, client.queue_name).get("garbage")
    assert letter is not None and letter.error_type == "InvalidPayload"
    assert info.value.error_type == letter.error_type


# -- a million keys ---------------------------------------------------------------------------


class _RssSampler:
    """Samples this process's resident set size (``/proc/self/status``) every 10 ms."""

    def __init__(self) -> None:
        self.baseline = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


# A million keys through SeaweedFS: ~2 min on a quiet 2-core machine, far more on a busy one.
@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_million_key_delete(
    start_worker: StartWorker, private_redis: RedisServer, queue_name: str, bucket: str
) -> None:
    """A 1,000,000-key DeleteJob is accepted in bounded memory; a worker runs a big one."""
    settings = Settings(redis_url=private_redis.url, queue_name=queue_name)
    gc.collect()
    with _RssSampler() as rss:
        started = time.monotonic()
        job = DeleteJob(bucket=bucket, keys=[f"absent/{i:07d}" for i in range(BIG_DELETE_KEYS)])
        built = time.monotonic() - started
        async with StorageJobsClient(settings=settings) as jobs:
            handle = await jobs.enqueue(job, job_id=f"big-{uuid.uuid4().hex[:8]}")
            enqueued = time.monotonic() - started
            stored = await jobs.redis.strlen(jobs.keys.job(handle.job_id))
            del job
    grew = (rss.peak - rss.baseline) / MiB
    assert handle.enqueued
    # About 60 MB of key strings plus the JSON (18 MB) a few times: far under half a GB.
    assert grew < 512, f"building and enqueueing took {grew:.0f} MiB"

    async with StorageJobsClient(settings=settings) as jobs:
        if RUN_DELETE_KEYS != BIG_DELETE_KEYS:
            # Take the million back off the queue (only our own keys) and run a smaller one.
            await jobs.redis.zrem(jobs.queue_name, handle.job_id)
            await jobs.redis.delete(jobs.keys.job(handle.job_id))
            keys = [f"absent/{i:07d}" for i in range(RUN_DELETE_KEYS)]
            handle = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
            del keys
        worker = start_worker(STORAGE_JOBS_REDIS_URL=private_redis.url)
        run_started = time.monotonic()
        result = await jobs.handle(handle.job_id).result(timeout=600)
    ran = time.monotonic() - run_started
    assert isinstance(result, DeleteResult)
    assert (result.deleted_count, result.failed) == (RUN_DELETE_KEYS, [])
    assert worker.running()
    print(
        f"{BIG_DELETE_KEYS}-key DeleteJob: built in {built:.1f} s, enqueued after "
        f"{enqueued:.1f} s ({stored / MiB:.1f} MiB payload), test process RSS grew "
        f"{grew:.0f} MiB (peak {rss.peak / MiB:.0f} MiB); a worker deleted "
        f"{RUN_DELETE_KEYS} absent keys in {ran:.1f} s"
    )
