"""WorkerMetrics: every metric of one worker process, and the server that exposes them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from ._bucket_labels import BucketCounters
from ._tally import JobTally

__all__ = [
    "DURATION_BUCKETS",
    "METRIC_NAMES",
    "PICKUP_BUCKETS",
    "MetricsServer",
    "WorkerMetrics",
]

DURATION_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
)  # fmt: skip
"""Job duration buckets (seconds): 1 ms to 1 h."""

PICKUP_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
)  # fmt: skip
"""Pickup latency buckets (seconds): 1 ms to 1 h."""

OUTCOMES = ("success", "retry", "failed", "invalid", "cancelled", "expired")
"""Values of the ``outcome`` label of ``storage_jobs_jobs_total``."""

METRIC_NAMES: tuple[str, ...] = (
    "storage_jobs_attributes_lost_total",
    "storage_jobs_bytes_copied_total",
    "storage_jobs_bytes_uploaded_total",
    "storage_jobs_control_actions_total",
    "storage_jobs_dead_letters_total",
    "storage_jobs_job_duration_seconds",
    "storage_jobs_job_retries_total",
    "storage_jobs_jobs_in_progress",
    "storage_jobs_jobs_total",
    "storage_jobs_keys_deleted_total",
    "storage_jobs_keys_failed_total",
    "storage_jobs_pickup_latency_seconds",
    "storage_jobs_prefix_keys_total",
    "storage_jobs_queue_deferred",
    "storage_jobs_queue_depth",
    "storage_jobs_queue_paused",
    "storage_jobs_redis_up",
    "storage_jobs_s3_rate_limited_seconds_total",
    "storage_jobs_s3_rate_limited_total",
    "storage_jobs_webhook_deliveries_total",
    "storage_jobs_worker_info",
)
"""Every metric name as queried (counters with ``_total``; histograms without suffix), sorted."""


class WorkerMetrics:
    """The metrics of one worker process.

    Attributes:
        registry: The registry every metric here is registered in (and only these).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Creates every metric in ``registry`` (a new one when not given)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # Updated once or more per job: plain numbers, no lock, no label lookup (see _tally).
        self.tally = JobTally(DURATION_BUCKETS, PICKUP_BUCKETS)
        r.register(self.tally)
        self.dead_letters = Counter(
            "storage_jobs_dead_letters_total",
            "Jobs that failed for good and were kept as dead letters.",
            ["kind"],
            registry=r,
        )
        self.keys_failed = Counter(
            "storage_jobs_keys_failed_total",
            "Keys bulk deletes gave up on, by the last S3 error code.",
            ["code"],
            registry=r,
        )
        self.attributes_lost = Counter(
            "storage_jobs_attributes_lost_total",
            "Source attributes a copy could not keep (tags, sse, object_lock, ...), by name.",
            ["attribute"],
            registry=r,
        )
        self.prefix_keys = Counter(
            "storage_jobs_prefix_keys_total",
            "Keys of prefix jobs by outcome: filtered, verified, mismatch, extraneous_deleted.",
            ["outcome"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "storage_jobs_queue_depth",
            "Jobs due now on the queue and not taken yet, refreshed every few seconds.",
            ["queue"],
            registry=r,
        )
        self.queue_deferred = Gauge(
            "storage_jobs_queue_deferred",
            (
                "Jobs on the queue scheduled for later: deferred or waiting to retry (running "
                "jobs are not counted, though their score is their lease's deadline), "
                "refreshed every few seconds."
            ),
            ["queue"],
            registry=r,
        )
        self.worker_info = Gauge(
            "storage_jobs_worker_info",
            "Always 1; labels identify the worker and its queue.",
            ["worker_id", "queue"],
            registry=r,
        )
        self.control_actions = Counter(
            "storage_jobs_control_actions_total",
            "Operator actions this worker carried out or obeyed (job.cancelled, queue.paused, "
            "queue.resumed, migration.paused, migration.resumed, ...).",
            ["action"],
            registry=r,
        )
        self.queue_paused = Gauge(
            "storage_jobs_queue_paused",
            "1 while the queue is paused (workers take nothing new), else 0.",
            ["queue"],
            registry=r,
        )
        self.rate_limited = Counter(
            "storage_jobs_s3_rate_limited_total",
            "S3 requests held back by STORAGE_JOBS_S3_RATE_LIMITS, by bucket.",
            ["bucket"],
            registry=r,
        )
        self.rate_limited_seconds = Counter(
            "storage_jobs_s3_rate_limited_seconds_total",
            "Seconds S3 requests were held back by the rate limit, summed, by bucket.",
            ["bucket"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "storage_jobs_webhook_deliveries_total",
            "Webhook POSTs of completion events: delivered (2xx), or refused (any other "
            "answer or none; retried with backoff)",
            ["outcome"],
            registry=self.registry,
        )
        self._held = BucketCounters(self.rate_limited, self.rate_limited_seconds)
        self.redis_up = Gauge(
            "storage_jobs_redis_up", "1 while the worker's Redis answers, else 0.", registry=r
        )

    # -- recording --------------------------------------------------------------------------------

    def job_finished(self, kind: str, outcome: str, duration_s: float | None = None) -> None:
        """Counts one finished attempt; ``retry`` also counts a retry, ``duration_s`` observed."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        tally = self.tally
        key = (kind, outcome)
        tally.jobs[key] = tally.jobs.get(key, 0) + 1
        if outcome == "retry":
            tally.retries[kind] = tally.retries.get(kind, 0) + 1
        if duration_s is not None:
            tally.duration(kind).observe(max(duration_s, 0.0))

    @contextmanager
    def running(self, enqueue_time: Any = None, score_ms: Any = None) -> Iterator[None]:
        """Counts a job in progress while the block runs, and observes its pickup latency.

        Args:
            enqueue_time: When the job was enqueued (arq's ``ctx["enqueue_time"]``, a datetime).
            score_ms: When it was scheduled to run (arq's ``ctx["score"]``, epoch ms).
        """
        due = 0.0
        if isinstance(enqueue_time, datetime):
            due = enqueue_time.timestamp()
        if isinstance(score_ms, int | float) and score_ms > 0:
            due = max(due, score_ms / 1000)
        if due:
            self.picked_up(time.time() - due)
        self.tally.in_progress += 1
        try:
            yield
        finally:
            self.tally.in_progress -= 1

    def job_result(self, result: Mapping[str, Any]) -> None:
        """Records what a successful job's result (its JSON form) says it did."""
        kind = result.get("kind")
        if kind == "upload" and isinstance(result.get("size"), int):
            self.uploaded(result["size"])
        elif kind == "delete":
            failed = result.get("failed") or []
            self.deleted(
                int(result.get("deleted_count") or 0),
                (str(f.get("code") or "unknown") for f in failed if isinstance(f, Mapping)),
            )
        elif kind == "copy":
            for loss in result.get("lost") or []:
                self.attribute_lost(str(loss.get("attribute")))
        elif kind == "batch" and result.get("of") == "migrate":
            self.copied(int(result.get("bytes") or 0))
            self.prefix_outcomes(result, ("filtered", "verified", "mismatch"))
            for name, count in (result.get("lost_attributes") or {}).items():
                self.attribute_lost(str(name), int(count))
        elif kind == "migrate" and not result.get("dry_run"):
            # A dry run's count is of keys it would delete: none went.
            self.prefix_outcomes(result, ("extraneous_deleted",))
        elif kind == "batch" and result.get("of") == "delete_prefix":
            # Per-key codes of prefix deletes are in the completion report, not the result.
            self.deleted(int(result.get("done") or 0))
            self.prefix_outcomes(result, ("filtered",))
        elif kind == "batch" and result.get("of") == "verify":
            self.prefix_outcomes(result, ("filtered",))

    def prefix_outcomes(self, result: Mapping[str, Any], outcomes: Iterable[str]) -> None:
        """Adds the per-key outcome counts a prefix job's (or batch's) result carries."""
        for outcome in outcomes:
            if count := int(result.get(outcome) or 0):
                self.prefix_keys.labels(outcome=outcome).inc(count)

    def attribute_lost(self, attribute: str, count: int = 1) -> None:
        """Counts source attributes copies could not keep."""
        self.attributes_lost.labels(attribute=attribute).inc(count)

    def dead_lettered(self, kind: str) -> None:
        """Counts one dead letter."""
        self.dead_letters.labels(kind=kind).inc()

    def uploaded(self, size: int) -> None:
        """Adds uploaded bytes."""
        self.tally.bytes_uploaded += max(size, 0)

    def copied(self, size: int) -> None:
        """Adds copied bytes."""
        self.tally.bytes_copied += max(size, 0)

    def deleted(self, deleted_count: int, failed_codes: Iterable[str] = ()) -> None:
        """Counts deleted keys and the final per-key failures, by code."""
        self.tally.keys_deleted += max(deleted_count, 0)
        for code in failed_codes:
            self.keys_failed.labels(code=code or "unknown").inc()

    def picked_up(self, latency_s: float) -> None:
        """Observes one pickup latency (clamped at 0: clocks of producers and workers differ)."""
        self.tally.pickup.observe(max(latency_s, 0.0))

    def set_queue(self, queue: str, depth: int, deferred: int) -> None:
        """Sets the queue gauges."""
        self.queue_depth.labels(queue=queue).set(depth)
        self.queue_deferred.labels(queue=queue).set(deferred)

    def control_action(self, action: str) -> None:
        """Counts one operator action carried out or obeyed (its log event's name)."""
        self.control_actions.labels(action=action).inc()

    def set_queue_paused(self, queue: str, paused: bool) -> None:
        """Records whether the queue is paused."""
        self.queue_paused.labels(queue=queue).set(1 if paused else 0)

    def set_worker(self, worker_id: str, queue: str) -> None:
        """Publishes this worker's identity."""
        self.worker_info.labels(worker_id=worker_id, queue=queue).set(1)

    def s3_rate_limited(self, bucket: str, seconds: float) -> None:
        """Counts one S3 request the rate limit held for ``seconds`` (labels bounded)."""
        self._held.add(bucket, max(seconds, 0.0))

    def webhook_attempt(self, delivered: bool) -> None:
        """Counts one webhook POST by its outcome."""
        self.webhook_deliveries.labels("delivered" if delivered else "refused").inc()

    def set_redis_up(self, up: bool) -> None:
        """Records whether Redis answers."""
        self.redis_up.set(1 if up else 0)

    def tap_log(self, log: Any) -> Any:
        """Wraps a job's structlog logger so byte counts only its log reports are counted."""
        return _TappedLog(log, self)

    # -- serving ----------------------------------------------------------------------------------

    def serve(self, port: int, addr: str = "0.0.0.0") -> MetricsServer:  # noqa: S104
        """Serves ``/metrics`` from a daemon thread; port 0 picks a free one.

        Raises:
            OSError: If the port cannot be bound.
        """
        server, thread = start_http_server(port, addr=addr, registry=self.registry)
        return MetricsServer(server, thread)


class MetricsServer:
    """A running metrics HTTP server.

    Attributes:
        port: The port it listens on (the one picked when 0 was asked for).
    """

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.port: int = server.server_port

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


CONTROL_EVENTS = frozenset(
    {
        "job.cancelled",
        "migration.cancelled",
        "migration.paused",
        "migration.resumed",
        "queue.paused",
        "queue.resumed",
    }
)
"""Log events of operator actions, counted by ``storage_jobs_control_actions_total``."""


class _TappedLog:
    """A logger proxy that counts ``copy.done`` bytes and control events, passing calls through."""

    def __init__(self, log: Any, metrics: WorkerMetrics) -> None:
        self._log = log
        self._metrics = metrics

    def info(self, event: str, *args: Any, **fields: Any) -> Any:
        if event == "copy.done" and isinstance(fields.get("bytes"), int):
            self._metrics.copied(fields["bytes"])
        if event in CONTROL_EVENTS:
            self._metrics.control_action(event)
        return self._log.info(event, *args, **fields)

    def bind(self, **fields: Any) -> _TappedLog:
        return _TappedLog(self._log.bind(**fields), self._metrics)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)
