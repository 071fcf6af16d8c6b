"""WorkerMetrics: recording, the runtime's hooks, and a real worker's /metrics endpoint."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.worker import Retry
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from storage_jobs.client import JobFailedError, StorageJobsClient
from storage_jobs.devstack import FaultProxy, SeaweedFS
from storage_jobs.devstack.ports import free_port
from storage_jobs.jobs import CopyJob, DeleteJob, UploadJob, spec_for_name
from storage_jobs.metrics import METRIC_NAMES, WorkerMetrics
from storage_jobs.queue import CANCELLED, Queue, QueueKeys
from storage_jobs.settings import Settings
from storage_jobs.storage import (
    LocalRateLimiter,
    ObjectInfo,
    RateLimits,
    StorageBackendError,
    StorageClient,
    StorageConfig,
)
from storage_jobs.worker import JobFailure, WorkerRuntime, encode
from tests.fixtures_e2e import fill
from tests.workers import StartInProcess


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float:
    """A sample's value, 0 when it was never recorded."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


# -- unit -----------------------------------------------------------------------------------------


def test_metric_names_match_the_registry() -> None:
    """METRIC_NAMES is sorted and lists exactly the families a WorkerMetrics registers."""
    metrics = WorkerMetrics()
    families = {
        f"{m.name}_total" if m.type == "counter" else m.name for m in metrics.registry.collect()
    }
    assert list(METRIC_NAMES) == sorted(METRIC_NAMES)
    assert set(METRIC_NAMES) == families
    assert all(name.startswith("storage_jobs_") for name in METRIC_NAMES)


async def test_requests_held_by_the_rate_limit_are_counted_per_bucket() -> None:
    """The limiter's waits reach storage_jobs_s3_rate_limited_total / _seconds_total."""
    metrics = WorkerMetrics()
    limiter = LocalRateLimiter(RateLimits({"slow": 20.0}), on_wait=metrics.s3_rate_limited)
    await asyncio.gather(*(limiter.acquire("slow") for _ in range(6)))
    await limiter.acquire("fast")
    held = value(metrics, "storage_jobs_s3_rate_limited_total", bucket="slow")
    assert 5 <= held <= 6  # all but the first wait (one token a reservation at 20/s)
    assert value(metrics, "storage_jobs_s3_rate_limited_seconds_total", bucket="slow") > 0.1
    assert value(metrics, "storage_jobs_s3_rate_limited_total", bucket="fast") == 0


def test_instances_have_their_own_registries() -> None:
    """Two WorkerMetrics never share (or clash on) a registry."""
    first, second = WorkerMetrics(), WorkerMetrics(CollectorRegistry())
    first.job_finished("upload", "success")
    assert value(first, "storage_jobs_jobs_total", kind="upload", outcome="success") == 1
    assert value(second, "storage_jobs_jobs_total", kind="upload", outcome="success") == 0


def test_outcomes_retries_and_durations() -> None:
    """Each outcome is counted by kind; a retry also counts a retry; durations are observed."""
    metrics = WorkerMetrics()
    metrics.job_finished("copy", "success", 0.002)
    metrics.job_finished("copy", "retry", 0.5)
    metrics.job_finished("copy", "retry", 0.5)
    metrics.job_finished("delete", "failed", 4000.0)
    metrics.job_finished("upload", "invalid")
    assert value(metrics, "storage_jobs_jobs_total", kind="copy", outcome="retry") == 2
    assert value(metrics, "storage_jobs_job_retries_total", kind="copy") == 2
    assert value(metrics, "storage_jobs_job_retries_total", kind="delete") == 0
    assert value(metrics, "storage_jobs_jobs_total", kind="upload", outcome="invalid") == 1
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="copy") == 3
    assert value(metrics, "storage_jobs_job_duration_seconds_sum", kind="copy") == 1.002
    # 1 ms .. 1 h buckets: 2 ms lands at 2.5 ms, 4000 s only in +Inf.
    bucket = "storage_jobs_job_duration_seconds_bucket"
    assert value(metrics, bucket, kind="copy", le="0.001") == 0
    assert value(metrics, bucket, kind="copy", le="0.0025") == 1
    assert value(metrics, bucket, kind="delete", le="3600.0") == 0
    assert value(metrics, bucket, kind="delete", le="+Inf") == 1
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="upload") == 0
    with pytest.raises(ValueError, match="outcome"):
        metrics.job_finished("copy", "crashed")


def test_results_count_bytes_and_keys() -> None:
    """Upload sizes become bytes; delete results become deleted keys and failed keys by code."""
    metrics = WorkerMetrics()
    metrics.job_result({"kind": "upload", "bucket": "b", "key": "k", "size": 1234, "etag": "e"})
    metrics.job_result({"kind": "upload", "bucket": "b", "key": "k", "size": 6, "etag": "e"})
    metrics.job_result(
        {
            "kind": "delete",
            "bucket": "b",
            "deleted_count": 7,
            "failed": [
                {"key": "a", "code": "AccessDenied", "message": ""},
                {"key": "b", "code": "AccessDenied", "message": ""},
                {"key": "c", "code": "InternalError", "message": ""},
            ],
        }
    )
    metrics.job_result({"kind": "copy", "src_bucket": "b", "src_key": "k", "dst_key": "d"})
    assert value(metrics, "storage_jobs_bytes_uploaded_total") == 1240
    assert value(metrics, "storage_jobs_keys_deleted_total") == 7
    assert value(metrics, "storage_jobs_keys_failed_total", code="AccessDenied") == 2
    assert value(metrics, "storage_jobs_keys_failed_total", code="InternalError") == 1
    assert value(metrics, "storage_jobs_bytes_copied_total") == 0
    batch = {"kind": "batch", "of": "migrate", "migration_id": "m", "batch": 1, "done": 3}
    metrics.job_result({**batch, "filtered": 4, "verified": 3, "mismatch": 1})
    metrics.job_result({"kind": "migrate", "migration_id": "m", "extraneous_deleted": 5})
    # A dry run's extraneous keys are the ones it would delete: none went.
    metrics.job_result(
        {"kind": "migrate", "migration_id": "d", "dry_run": True, "extraneous_deleted": 9}
    )
    # Prefix deletes and verifications filter too; a verification's differences are no copies.
    metrics.job_result({**batch, "of": "delete_prefix", "done": 0, "filtered": 2})
    metrics.job_result({**batch, "of": "verify", "done": 0, "filtered": 1, "mismatch": 6})
    for outcome, count in (("filtered", 7), ("verified", 3), ("mismatch", 1)):
        assert value(metrics, "storage_jobs_prefix_keys_total", outcome=outcome) == count
    assert value(metrics, "storage_jobs_prefix_keys_total", outcome="extraneous_deleted") == 5


def test_running_tracks_in_progress_and_pickup_latency() -> None:
    """In-progress rises during a job; pickup latency runs from the later of enqueue and score."""
    metrics = WorkerMetrics()
    now = time.time()
    enqueued = datetime.fromtimestamp(now - 100, tz=UTC)
    scheduled_ms = int((now - 2) * 1000)  # deferred: due 2 s ago
    with metrics.running(enqueued, scheduled_ms):
        assert value(metrics, "storage_jobs_jobs_in_progress") == 1
        with metrics.running(datetime.fromtimestamp(now + 5, tz=UTC), 0):  # producer clock ahead
            assert value(metrics, "storage_jobs_jobs_in_progress") == 2
    assert value(metrics, "storage_jobs_jobs_in_progress") == 0
    assert value(metrics, "storage_jobs_pickup_latency_seconds_count") == 2
    latency = value(metrics, "storage_jobs_pickup_latency_seconds_sum")
    assert 2.0 <= latency < 3.0  # 2 s (not 100 s) plus 0 for the clamped one
    with metrics.running():  # nothing known: no observation
        pass
    assert value(metrics, "storage_jobs_pickup_latency_seconds_count") == 2


def test_job_path_takes_no_lock_and_no_label_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a job records goes to plain numbers: no labels() call and no lock per job."""
    from prometheus_client import metrics as prom_metrics
    from prometheus_client import values as prom_values

    metrics = WorkerMetrics()

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a per-job metric update went through prometheus_client")

    monkeypatch.setattr(prom_metrics.MetricWrapperBase, "labels", forbidden)
    monkeypatch.setattr(prom_values.MutexValue, "inc", forbidden)
    monkeypatch.setattr(prom_values.MutexValue, "set", forbidden)
    enqueued = datetime.fromtimestamp(time.time() - 1, tz=UTC)
    for _ in range(3):
        with metrics.running(enqueued, 0):
            metrics.job_finished("upload", "success", 0.003)
        metrics.job_result({"kind": "upload", "size": 10})
    metrics.job_finished("upload", "retry", 0.2)
    metrics.job_result({"kind": "delete", "deleted_count": 4, "failed": []})
    metrics.copied(7)
    monkeypatch.undo()
    assert value(metrics, "storage_jobs_jobs_total", kind="upload", outcome="success") == 3
    assert value(metrics, "storage_jobs_job_retries_total", kind="upload") == 1
    assert value(metrics, "storage_jobs_bytes_uploaded_total") == 30
    assert value(metrics, "storage_jobs_bytes_copied_total") == 7
    assert value(metrics, "storage_jobs_keys_deleted_total") == 4
    bucket = "storage_jobs_job_duration_seconds_bucket"
    assert value(metrics, bucket, kind="upload", le="0.0025") == 0
    assert value(metrics, bucket, kind="upload", le="0.005") == 3
    assert value(metrics, bucket, kind="upload", le="+Inf") == 4
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="upload") == 4
    assert value(metrics, "storage_jobs_pickup_latency_seconds_count") == 3


def test_gauges_and_tapped_log() -> None:
    """Queue, worker and Redis gauges are set; a tapped log counts copy.done bytes only."""
    metrics = WorkerMetrics()
    metrics.set_queue("q", depth=12, deferred=3)
    metrics.set_worker("host-1-abc", "q")
    metrics.set_redis_up(False)
    assert value(metrics, "storage_jobs_queue_depth", queue="q") == 12
    assert value(metrics, "storage_jobs_queue_deferred", queue="q") == 3
    assert value(metrics, "storage_jobs_worker_info", worker_id="host-1-abc", queue="q") == 1
    assert value(metrics, "storage_jobs_redis_up") == 0

    seen: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def bind(self, **fields: Any) -> Log:
            return self

        def info(self, event: str, **fields: Any) -> None:
            seen.append((event, fields))

        def warning(self, event: str, **fields: Any) -> None:
            seen.append((event, fields))

    log = metrics.tap_log(Log()).bind(job_id="j")
    log.info("copy.done", bytes=500)
    log.info("copy.skipped_identical", bytes=99)
    log.warning("copy.done", bytes=77)  # only info events of copy.done count
    log.info("copy.done", bytes=None)
    assert value(metrics, "storage_jobs_bytes_copied_total") == 500
    events = [event for event, _ in seen]
    assert events == ["copy.done", "copy.skipped_identical", "copy.done", "copy.done"]


def test_serves_its_registry_over_http() -> None:
    """serve(0) picks a free port and serves this registry's samples until stopped."""
    metrics = WorkerMetrics()
    metrics.uploaded(42)
    server = metrics.serve(0, addr="127.0.0.1")
    try:
        assert server.port > 0
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        assert "storage_jobs_bytes_uploaded_total 42.0" in text
        assert "python_gc_objects_collected_total" not in text  # not the global registry
    finally:
        server.stop()
    with pytest.raises(urllib.error.URLError):  # connection refused
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=2)


# -- the runtime's hooks --------------------------------------------------------------------------


class FakeStorage(StorageClient):
    """Answers PUT, HEAD and COPY from memory, or fails every call with a chosen error."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__(StorageConfig())
        self.fail = fail

    async def put_bytes(self, *, bucket: str, key: str, data: bytes, **_: Any) -> ObjectInfo:
        if self.fail is not None:
            raise self.fail
        return ObjectInfo(bucket=bucket, key=key, size=len(data), etag="e")

    async def head_object(
        self, *, bucket: str, key: str, version_id: str | None = None
    ) -> dict[str, Any]:
        if self.fail is not None:
            raise self.fail
        return {"key": key, "size": 300, "etag": "e", "metadata": {}, "content_type": None}

    async def copy_object(
        self,
        *,
        src_bucket: str,
        src_key: str,
        dst_bucket: str | None = None,
        dst_key: str,
        size: int | None = None,
        **_: Any,
    ) -> ObjectInfo:
        return ObjectInfo(bucket=dst_bucket or src_bucket, key=dst_key, size=size or 0, etag="e")


class QuietLog:
    """A structlog stand-in that drops everything."""

    def bind(self, **_: Any) -> QuietLog:
        return self

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *a, **k: None


def runtime(fake_redis: Any, storage: StorageClient, metrics: WorkerMetrics) -> WorkerRuntime:
    settings = Settings(max_tries=3, retry_base_delay=0, queue_name=f"q-{uuid.uuid4().hex[:8]}")
    return WorkerRuntime(
        settings=settings,
        storage=storage,
        queue=Queue(fake_redis, settings.queue_name),
        log=QuietLog(),
        metrics=metrics,
    )


def arq_ctx(attempt: int = 1, waited_s: float = 0.25) -> dict[str, Any]:
    due = time.time() - waited_s
    return {
        "job_id": uuid.uuid4().hex,
        "job_try": attempt,
        "enqueue_time": datetime.fromtimestamp(due - 10, tz=UTC),
        "score": int(due * 1000),
    }


def spec(kind: str) -> Any:
    found = spec_for_name(f"storage_jobs.{kind}")
    assert found is not None
    return found


async def test_runtime_records_success_bytes_and_pickup(fake_redis: Any) -> None:
    """A successful upload and copy count success, bytes, duration and pickup latency."""
    metrics = WorkerMetrics()
    rt = runtime(fake_redis, FakeStorage(), metrics)
    upload = UploadJob(bucket="bkt", key="k", data=b"12345")
    copy = CopyJob(src_bucket="bkt", src_key="k", dst_key="d")
    await rt.execute(spec("upload"), arq_ctx(), (upload.model_dump_json(),), {})
    await rt.execute(spec("copy"), arq_ctx(), (copy.model_dump_json(),), {})
    assert value(metrics, "storage_jobs_jobs_total", kind="upload", outcome="success") == 1
    assert value(metrics, "storage_jobs_jobs_total", kind="copy", outcome="success") == 1
    assert value(metrics, "storage_jobs_bytes_uploaded_total") == 5
    assert value(metrics, "storage_jobs_bytes_copied_total") == 300
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="copy") == 1
    assert value(metrics, "storage_jobs_pickup_latency_seconds_count") == 2
    assert value(metrics, "storage_jobs_pickup_latency_seconds_sum") >= 0.5
    assert value(metrics, "storage_jobs_jobs_in_progress") == 0


async def test_runtime_records_retries_failures_and_invalid_payloads(fake_redis: Any) -> None:
    """Transient errors count a retry; exhausted or invalid jobs count a dead letter."""
    metrics = WorkerMetrics()
    rt = runtime(fake_redis, FakeStorage(StorageBackendError("boom", code="SlowDown")), metrics)
    payload = CopyJob(src_bucket="bkt", src_key="k", dst_key="d").model_dump_json()
    with pytest.raises(Retry):
        await rt.execute(spec("copy"), arq_ctx(attempt=1), (payload,), {})
    with pytest.raises(JobFailure):
        await rt.execute(spec("copy"), arq_ctx(attempt=3), (payload,), {})  # last try
    with pytest.raises(JobFailure, match="a job takes"):
        await rt.execute(spec("delete"), arq_ctx(), (), {})
    assert value(metrics, "storage_jobs_jobs_total", kind="copy", outcome="retry") == 1
    assert value(metrics, "storage_jobs_job_retries_total", kind="copy") == 1
    assert value(metrics, "storage_jobs_jobs_total", kind="copy", outcome="failed") == 1
    assert value(metrics, "storage_jobs_jobs_total", kind="delete", outcome="invalid") == 1
    assert value(metrics, "storage_jobs_dead_letters_total", kind="copy") == 1
    assert value(metrics, "storage_jobs_dead_letters_total", kind="delete") == 1
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="copy") == 2
    assert value(metrics, "storage_jobs_job_duration_seconds_count", kind="delete") == 0
    assert value(metrics, "storage_jobs_jobs_in_progress") == 0


def _storage_jobs_samples(registry: CollectorRegistry) -> list[tuple[str, float]]:
    return [
        (s.name, s.value)
        for family in registry.collect()
        for s in family.samples
        if s.name.startswith("storage_jobs_")
    ]


async def test_runtime_without_metrics_records_nothing(fake_redis: Any) -> None:
    """metrics=None: jobs run, retry and fail as usual, and no metric appears anywhere.

    "Anywhere" is prometheus_client's process-wide REGISTRY, the one place a runtime without
    a WorkerMetrics of its own could still record into.
    """
    before = _storage_jobs_samples(REGISTRY)
    settings = Settings(max_tries=3, retry_base_delay=0)
    rt = WorkerRuntime(
        settings=settings,
        storage=FakeStorage(),
        queue=Queue(fake_redis, settings.queue_name),
        log=QuietLog(),
    )
    upload = UploadJob(bucket="bkt", key="k", data=b"abc")
    result = await rt.execute(spec("upload"), arq_ctx(), (upload.model_dump_json(),), {})
    assert result["size"] == 3
    failing = WorkerRuntime(
        settings=settings,
        storage=FakeStorage(StorageBackendError("boom", code="SlowDown")),
        queue=Queue(fake_redis, settings.queue_name),
        log=QuietLog(),
    )
    copy = CopyJob(src_bucket="bkt", src_key="k", dst_key="d").model_dump_json()
    with pytest.raises(Retry):
        await failing.execute(spec("copy"), arq_ctx(attempt=1), (copy,), {})
    with pytest.raises(JobFailure):
        await failing.execute(spec("copy"), arq_ctx(attempt=3), (copy,), {})
    assert _storage_jobs_samples(REGISTRY) == before == []


async def test_worker_hooks_set_queue_and_redis_gauges(fake_redis: Any) -> None:
    """The arq worker's hooks: the queue gauges (a running job is not deferred), redis_up."""
    from storage_jobs.worker import build_worker

    metrics = WorkerMetrics()
    worker = build_worker(Settings(queue_name="hooks"))
    worker._pool = fake_redis
    worker.ctx["storage_jobs"] = runtime(fake_redis, FakeStorage(), metrics)
    now_ms = int(time.time() * 1000)
    await fake_redis.zadd("hooks", {"a": now_ms - 10, "b": now_ms - 5, "c": now_ms + 60_000})
    # Running, as the claim leaves a job: leased, its score moved to the lease's deadline.
    await fake_redis.zadd("hooks", {"running": now_ms + 10_000})
    await fake_redis.set("arq:in-progress:running", b"w1", px=60_000)
    await worker._refresh_queue_gauges()
    assert value(metrics, "storage_jobs_queue_depth", queue="hooks") == 2
    assert value(metrics, "storage_jobs_queue_deferred", queue="hooks") == 1
    assert value(metrics, "storage_jobs_redis_up") == 1
    await fake_redis.zadd("hooks", {"d": now_ms - 1})
    await worker._refresh_queue_gauges()  # within 5 s of the last refresh: no query
    assert value(metrics, "storage_jobs_queue_depth", queue="hooks") == 2
    await worker._redis_unavailable(ConnectionError("gone"))
    assert value(metrics, "storage_jobs_redis_up") == 0


# -- a real worker --------------------------------------------------------------------------------


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a worker's /metrics, by name and sorted labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.integration
async def test_worker_serves_metrics_matching_the_jobs_it_ran(
    start_in_process: StartInProcess,
    jobs: StorageJobsClient,
    admin_storage: StorageClient,
    seaweedfs: SeaweedFS,
    bucket: str,
    fault_proxy: FaultProxy,
    queue_name: str,
) -> None:
    """Uploads, copies, a dead letter, a partial delete and an invalid payload show on /metrics."""
    port = free_port()
    keys = [f"del/{i}" for i in range(5)]
    await fill(seaweedfs, bucket, keys)
    fault_proxy.rules.delete_errors = {keys[1]: "AccessDenied", keys[3]: "AccessDenied"}
    worker = await start_in_process(
        STORAGE_JOBS_METRICS_PORT=str(port), STORAGE_JOBS_S3_ENDPOINT_URL=fault_proxy.url
    )
    listening = [e for e in worker.events() if e.get("event") == "metrics.listening"]
    assert [e["port"] for e in listening] == [port]

    uploads = [
        await jobs.enqueue(UploadJob(bucket=bucket, key="a", data=b"hello")),
        await jobs.enqueue(UploadJob(bucket=bucket, key="b", data=b"x" * 1000)),
    ]
    for handle in uploads:
        await handle.result(timeout=30)
    copy = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="b", dst_key="c"))
    await copy.result(timeout=30)
    missing = await jobs.enqueue(CopyJob(src_bucket=bucket, src_key="nope", dst_key="d"))
    with pytest.raises(JobFailedError):
        await missing.result(timeout=30)
    delete = await jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
    assert len((await delete.result(timeout=30)).failed) == 2
    # A payload that is JSON for arq but not a valid job: dead-lettered as invalid.
    bad_id = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    raw = encode({"t": 0, "f": "storage_jobs.upload", "a": ["{}"], "k": {}, "et": now_ms})
    await jobs.redis.set(f"arq:job:{bad_id}", raw)
    await jobs.redis.zadd(queue_name, {bad_id: now_ms})
    with pytest.raises(JobFailedError):
        await jobs.handle(bad_id).result(timeout=30)
    # Not JSON at all (a pickle): arq fails it before our code runs; kind unknown.
    pickled_id = uuid.uuid4().hex
    await jobs.redis.set(f"arq:job:{pickled_id}", b"\x80\x04garbage")
    await jobs.redis.zadd(queue_name, {pickled_id: now_ms})
    with pytest.raises(JobFailedError):
        await jobs.handle(pickled_id).result(timeout=30)
    await jobs.enqueue(UploadJob(bucket=bucket, key="later", data=b"1"), defer_by=600)

    # The queue gauges refresh every 5 s, each from one read of the lanes: wait for a refresh
    # that saw the deferred job and no ready one (a job still in its lane at a refresh taken
    # while its finish was being written counts once; one left there for good fails here).
    deadline = time.monotonic() + 15
    samples = scrape(port)
    while (
        sample(samples, "storage_jobs_queue_deferred", queue=queue_name),
        sample(samples, "storage_jobs_queue_depth", queue=queue_name),
    ) != (1, 0):
        assert time.monotonic() < deadline, "queue gauges never showed only the deferred job"
        await asyncio.sleep(0.5)
        samples = scrape(port)

    total = "storage_jobs_jobs_total"
    assert sample(samples, total, kind="upload", outcome="success") == 2
    assert sample(samples, total, kind="copy", outcome="success") == 1
    assert sample(samples, total, kind="copy", outcome="failed") == 1
    assert sample(samples, total, kind="delete", outcome="success") == 1
    assert sample(samples, total, kind="upload", outcome="invalid") == 1
    assert sample(samples, "storage_jobs_dead_letters_total", kind="copy") == 1
    assert sample(samples, "storage_jobs_dead_letters_total", kind="upload") == 1
    assert sample(samples, total, kind="unknown", outcome="invalid") == 1
    assert sample(samples, "storage_jobs_dead_letters_total", kind="unknown") == 1
    assert sample(samples, "storage_jobs_bytes_uploaded_total") == 1005
    assert sample(samples, "storage_jobs_bytes_copied_total") == 1000
    assert sample(samples, "storage_jobs_keys_deleted_total") == 3
    assert sample(samples, "storage_jobs_keys_failed_total", code="AccessDenied") == 2
    assert sample(samples, "storage_jobs_job_duration_seconds_count", kind="upload") == 2
    assert sample(samples, "storage_jobs_pickup_latency_seconds_count") == 6
    assert sample(samples, "storage_jobs_jobs_in_progress") == 0
    assert sample(samples, "storage_jobs_queue_depth", queue=queue_name) == 0
    assert sample(samples, "storage_jobs_redis_up") == 1
    infos = [k for k in samples if k[0] == "storage_jobs_worker_info"]
    assert len(infos) == 1 and ("queue", queue_name) in infos[0][1]
    retries = [k for k in samples if k[0] == "storage_jobs_job_retries_total"]
    assert retries == []  # nothing here was transient


@pytest.mark.integration
async def test_worker_without_metrics_port_serves_nothing(start_in_process: StartInProcess) -> None:
    """Without STORAGE_JOBS_METRICS_PORT the worker starts and logs no metrics.listening."""
    worker = await start_in_process()
    assert worker.running()
    assert not [e for e in worker.events() if e.get("event") == "metrics.listening"]


async def test_runtime_counts_a_cancel_and_keeps_no_dead_letter(fake_redis: Any) -> None:
    """A job cancelled at its first safe point: outcome cancelled, no dead letter.

    A job marked before its claim never reaches the runtime: the claim finishes it.
    """
    metrics = WorkerMetrics()
    storage = FakeStorage()
    rt = runtime(fake_redis, storage, metrics)
    ctx = arq_ctx()
    await fake_redis.set(QueueKeys.cancel(ctx["job_id"]), "1")
    payload = DeleteJob(bucket="bkt", keys=["a", "b"]).model_dump_json()
    with pytest.raises(JobFailure) as caught:
        await rt.execute(spec("delete"), ctx, (payload,), {})
    assert caught.value.error_type == CANCELLED
    assert value(metrics, "storage_jobs_jobs_total", kind="delete", outcome="cancelled") == 1
    assert value(metrics, "storage_jobs_control_actions_total", action="job.cancelled") == 1
    assert value(metrics, "storage_jobs_dead_letters_total", kind="delete") == 0
    assert value(metrics, "storage_jobs_keys_deleted_total") == 0  # no request went out
    assert await rt.queue.dead_letters.count() == 0
