"""Per-bucket state with a bound: the most recently used buckets are kept, up to a limit.

A worker may touch any number of bucket names over its life (a job names its bucket); state
kept per name for ever would grow without end. Past the limit, the least recently used entry
that its owner says may go (idle: nothing waiting on it, nothing to lose) is dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["MAX_BUCKETS", "BucketTable"]

MAX_BUCKETS = 1024
"""Buckets whose state is kept, by default."""

_SCAN = 16  # entries looked at for an idle one, per insert: an insert stays cheap

T = TypeVar("T")


class BucketTable(Generic[T]):
    """Bucket -> state, least recently used first; idle entries past ``limit`` are dropped.

    Args:
        idle: Whether an entry may be dropped now (the default: always).
        limit: Entries kept (more only while every old one is busy).
        on_drop: Told of each dropped entry.
    """

    def __init__(
        self,
        idle: Callable[[T], bool] = lambda _: True,
        *,
        limit: int = MAX_BUCKETS,
        on_drop: Callable[[str, T], None] | None = None,
    ) -> None:
        self.idle = idle
        self.limit = limit
        self.on_drop = on_drop
        self._items: OrderedDict[str, T] = OrderedDict()

    def get(self, bucket: str) -> T | None:
        """A bucket's state (now the most recently used), or None."""
        value = self._items.get(bucket)
        if value is not None:
            self._items.move_to_end(bucket)
        return value

    def put(self, bucket: str, value: T) -> T:
        """Sets a bucket's state (most recently used), dropping idle old ones past the limit."""
        self._items[bucket] = value
        self._items.move_to_end(bucket)
        if len(self._items) > self.limit:
            self._drop_idle()
        return value

    def _drop_idle(self) -> None:
        for name in list(self._items)[:_SCAN]:
            if len(self._items) <= self.limit:
                return
            value = self._items[name]
            if self.idle(value):
                del self._items[name]
                if self.on_drop is not None:
                    self.on_drop(name, value)

    def __getitem__(self, bucket: str) -> T:
        return self._items[bucket]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, bucket: object) -> bool:
        return bucket in self._items

    def items(self) -> Iterator[tuple[str, T]]:
        """Every kept bucket and its state, least recently used first."""
        return iter(list(self._items.items()))
