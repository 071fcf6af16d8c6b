"""One logical queue over N shards: each shard's hash tag, a job's shard, a shard's node.

A shard is a complete queue named ``<queue>{<tag>}``: its sorted set and every
``storage-jobs:<queue>{<tag>}:...`` key carry the shard's hash tag, and so does each of its job
ids (``{<tag>}<id>``), so arq's ``arq:job:{<tag>}<id>`` and every job state key land in the
shard's slot with the rest: each script call touches one slot. ``ShardLayout`` maps a job id to
its shard and its tagged id. The tags are a pure function of the queue's name and the shard
count: every producer and worker computes the same ones, with nothing to look up.

Why not ``{<queue>:0}``, ``{<queue>:1}``, ...: a slot is a hash, so N naive tags land on N
masters only by luck (three tags on three masters: 2 times in 9). Instead shard ``i`` of ``N``
takes the first salted tag whose slot lies in the middle half of the ``i``-th of ``N`` equal
slot ranges. ``redis-cli --cluster create`` (and the managed services) split the 16,384 slots
evenly over M masters, so N == M puts one shard on each master, and N == k * M puts k on each.
The middle half keeps clear of where M's split and N's differ by a slot or two of rounding.

A shard's tag depends on N: no choice of tags can both keep shard ``i``'s tag for every N and
spread every N evenly (shard 1 of 2 must sit in the upper half, shard 1 of 3 in the middle
third, shard 1 of 4 in the lower half). Changing N moves jobs between shards anyway (a job's
shard is its id's hash modulo N), so changing N is a drain-and-move procedure either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

__all__ = [
    "MAX_SHARDS",
    "ShardLayout",
    "SlotRange",
    "shard_nodes",
    "shard_of",
    "shard_tags",
    "slot_of_tag",
    "slot_ranges",
]

MAX_SHARDS = 128
"""The largest shard count: more than the masters of any cluster a queue would use, and every
shard costs each idle worker a blocked wake-up; finding 128 tags takes about 25 ms."""


def slot_of_tag(tag: str) -> int:
    """The cluster slot of every key carrying the hash tag ``{tag}``."""
    return key_slot(f"{{{tag}}}".encode())


def shard_tags(queue: str, count: int) -> tuple[str, ...]:
    """The hash tag of each of ``count`` shards of ``queue``, without braces.

    One shard's tag is the queue's name, as a queue pinned to one slot is usually spelled.

    Raises:
        ValueError: If ``count`` is not in 1..MAX_SHARDS, or the name holds a brace (it would
            end or start the hash tag early).
    """
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"shard count must be between 1 and {MAX_SHARDS}, not {count}")
    if "{" in queue or "}" in queue:
        raise ValueError(f"a sharded queue's name cannot hold a brace: {queue!r}")
    if count == 1:
        return (queue,)
    return tuple(_tag_in_range(queue, index, count) for index in range(count))


def _tag_in_range(queue: str, index: int, count: int) -> str:
    """The first of ``<queue>:<index>``, ``<queue>:<index>:1``, ... in the shard's window."""
    width = REDIS_CLUSTER_HASH_SLOTS / count
    low = index * width + width / 4
    high = (index + 1) * width - width / 4
    salt = 0
    while True:  # a window of width/2 slots: on average 2 * count tries, deterministic
        tag = f"{queue}:{index}" if salt == 0 else f"{queue}:{index}:{salt}"
        if low <= slot_of_tag(tag) < high:
            return tag
        salt += 1


def shard_of(job_id: str, count: int) -> int:
    """The shard (0..count-1) a job id belongs to: a stable hash of the id, never of the time.

    The same id always lands on the same shard, so its job key, and the check that it runs
    once, live in one slot. BLAKE2b rather than ``hash()`` (salted per process) or CRC16
    (already what chooses the slot: reusing it would tie shards to slots).
    """
    digest = hashlib.blake2b(job_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True)
class ShardLayout:
    """How one logical queue is laid out: its shards' names and which shard holds a job.

    Untagged (one shard on one server, the default) the shard is the queue itself and ids are
    what the producer gave: the key layout of a queue without shards, unchanged. Tagged (a
    cluster, or more than one shard) each shard's name and each job id carry the shard's tag.

    Attributes:
        queue: The logical queue's name.
        count: Its shards.
        tagged: Whether names and ids carry hash tags (always, for more than one shard).
    """

    queue: str
    count: int = 1
    tagged: bool = False
    tags: tuple[str, ...] = field(init=False)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        tagged = self.tagged or self.count > 1
        tags = shard_tags(self.queue, self.count) if tagged else ()
        names = tuple(f"{self.queue}{{{tag}}}" for tag in tags) if tagged else (self.queue,)
        object.__setattr__(self, "tagged", tagged)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "names", names)

    def index(self, job_id: str) -> int:
        """The shard holding ``job_id``: the one its tag names, else its id's hash."""
        if not self.tagged:
            return 0
        if job_id.startswith("{") and (end := job_id.find("}")) > 0:
            tag = job_id[1:end]
            if tag in self.tags:
                return self.tags.index(tag)
        return shard_of(job_id, self.count)

    def job_id(self, job_id: str) -> str:
        """The id the job has on the queue: ``job_id`` itself, or tagged with its shard's tag.

        Idempotent: an id that already carries one of the shard tags is returned as it is, so
        either spelling of an id reaches the same job.
        """
        if not self.tagged:
            return job_id
        tag = self.tags[self.index(job_id)]
        return job_id if job_id.startswith(f"{{{tag}}}") else f"{{{tag}}}{job_id}"


@dataclass(frozen=True, order=True)
class SlotRange:
    """Slots ``start..end`` (inclusive), served by the master at ``host:port``."""

    start: int
    end: int
    host: str
    port: int

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


def slot_ranges(reply: Sequence[Any] | Mapping[Any, Any]) -> list[SlotRange]:
    """The slot ranges of a ``CLUSTER SLOTS`` answer, raw or as redis-py's cluster client parses it.

    ``CLUSTER SLOTS`` rather than ``CLUSTER SHARDS``: every Redis since 3.0, Valkey and each
    managed service answers it; ``CLUSTER SHARDS`` needs Redis 7.
    """
    if isinstance(reply, Mapping):  # redis-py's RedisCluster: {(start, end): {"primary": ...}}
        rows = [(start, end, info["primary"]) for (start, end), info in reply.items()]
    else:  # raw: [start, end, [host, port, id, ...], replicas...]
        rows = [(row[0], row[1], row[2]) for row in reply]
    return sorted(
        SlotRange(int(start), int(end), _text(primary[0]), int(primary[1]))
        for start, end, primary in rows
    )


def shard_nodes(tags: Sequence[str], ranges: Sequence[SlotRange]) -> list[SlotRange | None]:
    """For each shard's tag, the slot range (so the master) that holds it; None if unserved."""
    return [
        next((r for r in ranges if r.start <= slot <= r.end), None)
        for slot in map(slot_of_tag, tags)
    ]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
