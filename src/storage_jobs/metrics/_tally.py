"""The per-job metrics, kept in plain numbers and read out by a collector at scrape time.

``prometheus_client`` takes a lock on every ``inc``/``observe`` and looks labelled children up
(label validation, a locked dict) on every ``labels()`` call: about 15 us of worker CPU per job
on this machine. Here a job's updates are a dict increment and a bisect. Only the event loop's
thread writes; the metrics server's thread reads copies (a ``dict``/``list`` copy is one C call
under the GIL), so no update is lost and a scrape never sees a torn dict. A histogram's count is
the sum of its buckets, so buckets and count always agree (its sum may lag one observation).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["FastHistogram", "JobTally"]


class FastHistogram:
    """Bucket counts of one histogram (``le`` buckets, +Inf last) and the sum of observations."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Counts one observation (in the first bucket whose bound is >= it)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, as the exposition format wants them."""
        counts, running, out = list(self.counts), 0, []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            out.append((floatToGoString(bound), float(running)))  # type: ignore[no-untyped-call]
        return out


class JobTally(Collector):
    """The job-path metrics of one worker: outcomes, retries, durations, pickups, bytes, keys."""

    def __init__(self, duration_buckets: Sequence[float], pickup_buckets: Sequence[float]) -> None:
        self.duration_buckets = tuple(duration_buckets)
        self.jobs: dict[tuple[str, str], int] = {}
        self.retries: dict[str, int] = {}
        self.durations: dict[str, FastHistogram] = {}
        self.pickup = FastHistogram(pickup_buckets)
        self.in_progress = 0
        self.bytes_uploaded = 0.0
        self.bytes_copied = 0.0
        self.keys_deleted = 0.0

    def duration(self, kind: str) -> FastHistogram:
        """The duration histogram of one kind of job (created on first use)."""
        hist = self.durations.get(kind)
        if hist is None:
            hist = self.durations[kind] = FastHistogram(self.duration_buckets)
        return hist

    def collect(self) -> Iterator[Metric]:
        """The families, read from copies of the current numbers."""
        jobs = CounterMetricFamily(
            "storage_jobs_jobs_total",
            "Job attempts finished, by kind and outcome "
            "(success, retry, failed, invalid, cancelled).",
            labels=["kind", "outcome"],
        )
        for (kind, outcome), count in dict(self.jobs).items():
            jobs.add_metric([kind, outcome], count)
        yield jobs
        retries = CounterMetricFamily(
            "storage_jobs_job_retries_total",
            "Job attempts that failed transiently and were re-queued with a delay.",
            labels=["kind"],
        )
        for kind, count in dict(self.retries).items():
            retries.add_metric([kind], count)
        yield retries
        duration = HistogramMetricFamily(
            "storage_jobs_job_duration_seconds",
            "Time a job attempt took (payload checks and handler; invalid payloads excluded).",
            labels=["kind"],
        )
        for kind, hist in dict(self.durations).items():
            duration.add_metric([kind], hist.buckets(), hist.total)
        yield duration
        pickup = HistogramMetricFamily(
            "storage_jobs_pickup_latency_seconds",
            "Job start minus the later of its enqueue time and its scheduled time.",
        )
        pickup.add_metric([], self.pickup.buckets(), self.pickup.total)
        yield pickup
        yield GaugeMetricFamily(
            "storage_jobs_jobs_in_progress", "Jobs this worker is running now.", self.in_progress
        )
        yield CounterMetricFamily(
            "storage_jobs_bytes_uploaded_total", "Bytes stored by upload jobs.", self.bytes_uploaded
        )
        yield CounterMetricFamily(
            "storage_jobs_bytes_copied_total",
            "Bytes copied server-side by copy jobs (skipped copies excluded).",
            self.bytes_copied,
        )
        yield CounterMetricFamily(
            "storage_jobs_keys_deleted_total",
            "Keys bulk deletes removed (or found already absent).",
            self.keys_deleted,
        )
