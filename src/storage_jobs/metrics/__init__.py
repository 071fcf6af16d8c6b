"""Prometheus metrics of one worker process, on a registry of its own.

``WorkerMetrics`` holds every metric; the worker records into it through small hooks (the
runtime for job outcomes, the arq worker for queue gauges and Redis health) and serves it over
HTTP when ``STORAGE_JOBS_METRICS_PORT`` is set. Nothing here touches the global
``prometheus_client`` registry, so tests (and one process hosting several workers) can build as
many as they like.

Operator actions a job obeys (``job.cancelled``, ``migration.paused``, ...) are counted from
its log events the same way.

Copied bytes come from the copy handler's ``copy.done`` log event (its ``bytes`` field is the size
``copy_object`` reports), because ``CopyResult`` carries no size; ``tap_log`` wraps the job's
logger to observe it. Skipped copies add nothing.

The counters and histograms a job updates (outcomes, durations, pickups, bytes, keys) are plain
numbers read out at scrape time (``_tally``): no lock and no label lookup per job.
"""

from ._bucket_labels import BUCKET_LABELS
from ._worker_metrics import (
    DURATION_BUCKETS,
    METRIC_NAMES,
    PICKUP_BUCKETS,
    MetricsServer,
    WorkerMetrics,
)

__all__ = [
    "BUCKET_LABELS",
    "DURATION_BUCKETS",
    "METRIC_NAMES",
    "PICKUP_BUCKETS",
    "MetricsServer",
    "WorkerMetrics",
]
