"""Reading completion events: a resumable read over every shard's stream, and the webhooks' group.

**Readers** (``EventReader``: ``client.events``, ``storage-jobs events``) read with ``XREAD``
from a cursor. On one shard the cursor is the last entry id read. On N shards it is composite:
every shard's last entry id, in shard order, joined by commas (``"1733-0,1731-2,0-0"``); each
event carries the cursor just past it as its ``id``, so ``since=event.id`` resumes after it on
every shard at once. Events of one read are merged by time; within a shard they keep its order.
On one server one ``XREAD`` reads every shard; a cluster refuses keys of several slots in one
command, so there each shard gets its own (concurrently; a blocking read ends at the first
answer).

**Webhooks** read through a consumer group (``EventGroup``, one per shard's stream): each event
is delivered to one worker, acknowledged (``XACK``) once the receiver took it, and a delivery a
dead worker held is taken over after ``idle`` (``XAUTOCLAIM``), so none is lost to a restart.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import RedisCluster
from redis.exceptions import ResponseError

from ._events import EVENT_FIELD, JobEvent

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ._queue import Queue

__all__ = ["GROUP", "Entry", "EventGroup", "EventReader", "parse_cursor"]

GROUP = "webhooks"
"""The consumer group the workers deliver webhooks through."""

_ENTRY_ID = re.compile(r"^\d+-\d+$")

Entry = tuple[str, JobEvent | None]
"""One stream entry: its id on its shard's stream, and its event (None: not one of ours)."""


def parse_cursor(since: str | None, shards: int) -> list[str]:
    """Each shard's position from a cursor (None: the oldest event kept).

    Raises:
        ValueError: If it is not ``shards`` entry ids joined by commas.
    """
    if since is None:
        return ["0-0"] * shards
    parts = since.split(",")
    if len(parts) != shards or not all(_ENTRY_ID.match(p) for p in parts):
        raise ValueError(
            f"an events cursor is {shards} stream id(s) like 1733000000000-0, comma-separated "
            f"(an event's id); got {since!r}"
        )
    return parts


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entries(reply: Any) -> dict[str, list[tuple[str, dict[Any, Any]]]]:
    """An ``XREAD``/``XREADGROUP`` answer (RESP2 list or RESP3 map) as key -> entries."""
    if not reply:
        return {}
    pairs = reply.items() if isinstance(reply, dict) else reply
    out: dict[str, list[tuple[str, dict[Any, Any]]]] = {}
    for key, entries in pairs:
        if isinstance(entries, list) and entries and isinstance(entries[0], list):
            entries = entries[0]  # RESP3 wraps each stream's entries once more
        out[_text(key)] = [(_text(i), f) for i, f in entries if f is not None]
    return out


def _event(fields: dict[Any, Any]) -> JobEvent | None:
    raw = fields.get(EVENT_FIELD.encode(), fields.get(EVENT_FIELD))
    if raw is None:
        return None
    try:
        return JobEvent.model_validate_json(raw)
    except ValueError:
        return None  # not an event of ours: skipped, never fatal to a reader


class EventReader:
    """A resumable read of a queue's events, over every shard."""

    def __init__(self, queue: Queue, since: str | None = None) -> None:
        """Starts after ``since`` (an event's ``id``; None: from the oldest event kept).

        Raises:
            ValueError: If ``since`` is not a cursor of this queue's shard count.
        """
        self.redis = queue.redis
        self.keys = [shard.keys.events for shard in queue.shards]
        self.positions = parse_cursor(since, len(self.keys))

    @property
    def cursor(self) -> str:
        """Where the next read starts (pass it as ``since`` to resume here)."""
        return ",".join(self.positions)

    async def read(self, count: int = 100, block_s: float | None = None) -> list[JobEvent]:
        """The next events (up to ``count`` per shard); blocks up to ``block_s`` for one."""
        block = None if block_s is None else max(1, int(block_s * 1000))
        if isinstance(self.redis, RedisCluster) and len(self.keys) > 1:
            replies = await self._read_each(count, block)
        else:
            streams: dict[Any, Any] = dict(zip(self.keys, self.positions, strict=True))
            replies = [await cast(Awaitable[Any], self.redis.xread(streams, count, block))]
        found: list[tuple[int, int, int, str, dict[Any, Any]]] = []
        for reply in replies:
            for key, entries in _entries(reply).items():
                shard = self.keys.index(key)
                for entry_id, fields in entries:
                    ms, _, seq = entry_id.partition("-")
                    found.append((int(ms), int(seq), shard, entry_id, fields))
        events: list[JobEvent] = []
        for *_, shard, entry_id, fields in sorted(found):
            self.positions[shard] = entry_id
            if (event := _event(fields)) is not None:
                events.append(event.model_copy(update={"id": self.cursor}))
        return events

    async def _read_each(self, count: int, block: int | None) -> list[Any]:
        """One ``XREAD`` per shard (a cluster); a blocking read ends at the first answer."""
        reads = [
            asyncio.ensure_future(cast(Awaitable[Any], self.redis.xread({k: p}, count, block)))
            for k, p in zip(self.keys, self.positions, strict=True)
        ]
        try:
            if block is None:
                return list(await asyncio.gather(*reads))
            for next_done in asyncio.as_completed(reads):
                if await next_done:  # and whatever other shards answered by now
                    return [r.result() for r in reads if r.done() and not r.cancelled()]
            return []
        finally:
            for read in reads:
                read.cancel()
            await asyncio.gather(*reads, return_exceptions=True)


class EventGroup:
    """The webhooks' consumer group on one shard's events stream, for one consumer (a worker)."""

    def __init__(self, redis: Redis, key: str, consumer: str) -> None:
        self.redis = redis
        self.key = key
        self.consumer = consumer

    async def create(self) -> None:
        """Creates the group (at the stream's end: events from now on) unless it exists."""
        try:
            await self.redis.xgroup_create(self.key, GROUP, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, count: int, block_s: float | None) -> list[Entry]:
        """New events for this consumer (held as pending until acknowledged)."""
        block = None if block_s is None else max(1, int(block_s * 1000))
        reply = await self.redis.xreadgroup(
            GROUP, self.consumer, {self.key: ">"}, count=count, block=block
        )
        return self._parsed(_entries(reply).get(self.key, []))

    async def mine(self, count: int) -> list[Entry]:
        """Events this consumer holds and has not acknowledged (a restart under the same id)."""
        reply = await self.redis.xreadgroup(GROUP, self.consumer, {self.key: "0"}, count=count)
        return self._parsed(_entries(reply).get(self.key, []))

    async def take_over(self, idle_s: float, count: int) -> list[Entry]:
        """Events another consumer held unacknowledged for ``idle_s``, now this one's."""
        reply = await self.redis.xautoclaim(
            self.key, GROUP, self.consumer, int(idle_s * 1000), "0-0", count=count
        )
        entries = reply[1] if isinstance(reply, list | tuple) and len(reply) > 1 else []
        return self._parsed([(_text(i), f) for i, f in entries if f is not None])

    async def touch(self, ids: Sequence[str]) -> None:
        """Resets the idle time of held events (a delivery still being retried is not lost)."""
        if ids:
            await self.redis.xclaim(self.key, GROUP, self.consumer, 0, list(ids), justid=True)

    async def ack(self, ids: Sequence[str]) -> None:
        """Acknowledges delivered events."""
        if ids:
            await cast(Awaitable[int], self.redis.xack(self.key, GROUP, *ids))

    async def trimmed(self) -> tuple[str, int | None] | None:
        """Events trimmed from the stream before the group read them, if any.

        Trimming drops the oldest entries, so events were lost to the group exactly when the
        stream's first entry lies past the group's last delivered id and fewer entries remain
        than the group has still to read (``entries-added`` minus its ``entries-read``).

        Returns:
            None if none were; else the group's last delivered id and how many were lost
            (None when Redis no longer knows the group's read count).
        """
        info = await self.redis.xinfo_stream(self.key)
        groups = await self.redis.xinfo_groups(self.key)
        ours = next((g for g in groups if _text(g.get("name", "")) == GROUP), None)
        first = info.get("first-entry")
        if ours is None or not first:
            return None
        delivered = _text(ours.get("last-delivered-id") or "0-0")
        if _id(_text(first[0])) <= _id(delivered):
            return None
        read, added = ours.get("entries-read"), info.get("entries-added")
        if read is None or added is None:
            return delivered, None
        lost = int(added) - int(read) - int(info.get("length", 0))
        return (delivered, lost) if lost > 0 else None

    def _parsed(self, entries: list[tuple[str, dict[Any, Any]]]) -> list[Entry]:
        return [(entry_id, _event(fields)) for entry_id, fields in entries]


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)
