"""``ShardRouting``: what routes a ``Queue``'s call to the shard a job's id names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ..tracing import Tracer
    from ._claim import LeaseHolder
    from ._keys import QueueKeys
    from ._queue import Queue
    from ._scripts import Scripts
    from ._shard import Shard
    from ._shards import ShardLayout

__all__ = ["ShardRouting"]


class ShardRouting:
    """The connection, the shards and the routing of ids to them; ``Queue.__init__`` sets them.

    ``Queue`` takes its methods from this class's subclasses: ``WorkerSide``, ``OperatorSide``
    and ``ReaderSide`` (see ``Queue`` for the attributes).
    """

    redis: Redis
    name: str
    layout: ShardLayout
    home: str
    shards: tuple[Shard, ...]
    result_ttl: float
    events_maxlen: int
    scripts: Scripts
    tracer: Tracer | None
    _turn: int

    @property
    def _as_queue(self) -> Queue:
        """This object as the ``Queue`` it is (the spreading helpers take a ``Queue``)."""
        return cast("Queue", self)

    @property
    def single(self) -> Shard | None:
        """The only shard, when there is one."""
        return self.shards[0] if len(self.shards) == 1 else None

    def _only(self, what: str) -> Shard:
        if self.single is None:
            raise RuntimeError(f"a queue of {len(self.shards)} shards has no one {what}")
        return self.single

    @property
    def keys(self) -> QueueKeys:
        """The key names of the only shard (a queue of several has one set per shard)."""
        return self._only("key set").keys

    @property
    def leases(self) -> LeaseHolder:
        """The worker's leases on the only shard (a queue of several has one per shard)."""
        return self._only("lease holder").leases

    def shard(self, job_id: str) -> Shard:
        """The shard holding a job (by the tag of its id, else its id's hash)."""
        return self.shards[self.layout.index(job_id)]

    def job_id(self, job_id: str) -> str:
        """The id a job has on the queue (tagged on a tagged queue; either spelling works)."""
        return self.layout.job_id(job_id)

    def _by_shard(self, job_ids: Iterable[str]) -> dict[int, list[str]]:
        groups: dict[int, list[str]] = {}
        for job_id in job_ids:
            groups.setdefault(self.layout.index(job_id), []).append(job_id)
        return groups

    def _shard_name(self, job_id: str) -> str:
        return self.shard(job_id).name
