"""Per-bucket metric labels, bounded: the most recently used buckets, then ``other``.

A label per bucket name for ever would grow a worker's series (and Prometheus's) without end.
The ``BUCKET_LABELS`` most recently counted buckets keep a label each; one pushed out has its
counts folded into ``bucket="other"``, so every total over buckets stays whole.
"""

from __future__ import annotations

from prometheus_client import Counter

from ..storage import BucketTable

__all__ = ["BUCKET_LABELS", "OTHER", "BucketCounters"]

BUCKET_LABELS = 100
"""S3 buckets with a ``bucket`` label of their own at most."""

OTHER = "other"
"""The label of the buckets beyond ``BUCKET_LABELS``."""


class BucketCounters:
    """A count and an amount per bucket, in two counters labelled ``bucket``."""

    def __init__(self, count: Counter, amount: Counter, *, limit: int = BUCKET_LABELS) -> None:
        """Counts into ``count`` (one per event) and ``amount`` (the event's value)."""
        self.count = count
        self.amount = amount
        self._kept: BucketTable[list[float]] = BucketTable(limit=limit, on_drop=self._fold)

    def add(self, bucket: str, amount: float) -> None:
        """Counts one event of a bucket."""
        kept = self._kept.get(bucket) if bucket != OTHER else None
        if kept is None and bucket != OTHER:
            kept = self._kept.put(bucket, [0.0, 0.0])
        if kept is not None:
            kept[0] += 1
            kept[1] += amount
        label = bucket if kept is not None else OTHER
        self.count.labels(bucket=label).inc()
        self.amount.labels(bucket=label).inc(amount)

    def _fold(self, bucket: str, kept: list[float]) -> None:
        self.count.remove(bucket)
        self.amount.remove(bucket)
        self.count.labels(bucket=OTHER).inc(kept[0])
        self.amount.labels(bucket=OTHER).inc(kept[1])
