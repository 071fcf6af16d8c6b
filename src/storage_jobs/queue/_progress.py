"""The Redis side of a prefix job's progress: counters, cursor, per-key done bits, report lines.

Every per-key outcome is recorded with one script call (``lua/progress_record_key.lua``) that
sets the key's done bit and counts it only if the bit was new, so a batch re-run after a crash
never counts (or copies) a key twice.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ..jobs import MigrationProgress
from ._cluster import atomic
from ._index import index_prefix_job
from ._keys import state_key
from ._scripts import Scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisProgressStore"]

_TTL = 14 * 24 * 3600
_WAITING = "restoring:"  # per batch: its keys waiting on restores (summed as ``restoring``)


class RedisProgressStore:
    """One prefix job's progress in Redis (``jobs.ProgressStore``)."""

    def __init__(
        self,
        redis: Redis,
        migration_id: str,
        *,
        queue: str | None = None,
        scripts: Scripts | None = None,
    ) -> None:
        self.redis = redis
        self.migration_id = migration_id
        self.queue = queue  # where start() indexes the job for the dashboard; None: nowhere
        self.hash = state_key(migration_id, "progress")
        self.records = state_key(migration_id, "records")
        self.batches = state_key(migration_id, "batches")
        self.steps = state_key(migration_id, "steps")
        self.scripts = scripts or Scripts(redis)

    def done_bits(self, batch: int) -> str:
        """The key of a batch's per-key done bitmap."""
        return state_key(self.migration_id, f"batch:{batch}:done")

    async def start(self, kind: str, dry_run: bool) -> None:
        """Marks the job started (a resumed job keeps its first start time)."""
        async with atomic(self.redis) as tx:
            tx.hsetnx(self.hash, "started_at", str(time.time()))
            tx.hsetnx(self.hash, "status", "listing")
            tx.hset(self.hash, mapping={"kind": kind, "dry_run": int(dry_run)})
            tx.expire(self.hash, _TTL)
            await tx.execute()
        if self.queue is not None:
            await index_prefix_job(self.redis, self.queue, self.migration_id)

    async def get(self, field: str) -> str | None:
        """One raw field."""
        raw = await cast(Awaitable[bytes | None], self.redis.hget(self.hash, field))
        return None if raw is None else raw.decode()

    async def set_once(self, field: str, value: str) -> str:
        """Sets a field unless set, and returns its (first) value."""
        await cast(Awaitable[int], self.redis.hsetnx(self.hash, field, value))
        return await self.get(field) or value

    async def page_listed(self, page: int, count: int, last_key: str) -> None:
        """Records a listed page whose batch job is enqueued: the resume point moves past it."""
        async with atomic(self.redis) as tx:
            tx.hset(self.hash, mapping={"pages": page, "cursor": last_key, "status": "running"})
            tx.hincrby(self.hash, "listed", count)
            await tx.execute()

    async def listing_finished(self) -> None:
        """Records that every page is listed."""
        await cast(Awaitable[int], self.redis.hset(self.hash, "listing_done", "1"))

    async def set_status(self, status: str) -> None:
        """Sets the status readers see (``paused`` while paused, ``running`` again after)."""
        await cast(Awaitable[int], self.redis.hset(self.hash, "status", status))

    async def record_key(
        self,
        batch: int,
        index: int,
        counter: str,
        size: int,
        line: str,
        also: str = "",
        threshold: tuple[float, int] | None = None,
    ) -> bool:
        """Records one key's outcome once; False if it was already recorded.

        ``also`` names a second counter the key counts in (``verified``, ``mismatch``);
        crossing ``threshold`` (ratio, min tasks) sets the stop reason in the same script.
        """
        keys = [self.done_bits(batch), self.hash, self.records]
        ratio, least = threshold if threshold else ("", 0)
        args: list[Any] = [index, counter, size, line, also, ratio, least, _TTL]
        return bool(await self.scripts.progress_record_key(keys=keys, args=args))

    async def set_waiting(self, batch: int, count: int) -> None:
        """Records how many keys of a batch wait on restores now (a field of the progress hash)."""
        field = f"{_WAITING}{batch}"
        if count:
            await cast(Awaitable[int], self.redis.hset(self.hash, field, str(count)))
        else:
            await cast(Awaitable[int], self.redis.hdel(self.hash, field))

    async def stop_reason(self) -> str | None:
        """Why the job is stopping, or None while it runs on."""
        return await self.get("stopped")

    async def recorded(self, batch: int, count: int) -> set[int]:
        """Indexes of a batch whose outcome is already recorded."""
        raw = await cast(Awaitable[bytes | None], self.redis.get(self.done_bits(batch))) or b""
        return {i for i in range(count) if i // 8 < len(raw) and raw[i // 8] & (0x80 >> (i % 8))}

    async def finish_batch(
        self,
        batch: int,
        *,
        done: int = 0,
        failed: int = 0,
        skipped: int = 0,
        rejected: int = 0,
        lines: Sequence[str] = (),
    ) -> bool:
        """Marks a batch finished (once), adding counts and report lines given here."""
        keys = [self.batches, self.hash, self.records]
        args: list[Any] = [batch, done, failed, skipped, rejected, *lines]
        return bool(await self.scripts.progress_finish_batch(keys=keys, args=args))

    async def record_step(
        self, step: str, *, counter: str, count: int, lines: Sequence[str] = ()
    ) -> bool:
        """Records one step of the coordinator's final phase once (by its name)."""
        keys = [self.steps, self.hash, self.records]
        args: list[Any] = [step, counter, count, _TTL, *lines]
        return bool(await self.scripts.progress_record_step(keys=keys, args=args))

    async def finished_batches(self) -> set[int]:
        """Numbers of the batches finished so far."""
        members = await cast(Awaitable[set[bytes]], self.redis.smembers(self.batches))
        return {int(m) for m in members}

    async def read(self) -> MigrationProgress:
        """The current progress."""
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(self.hash))
        data: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
        data.pop("cursor", None)
        data.pop("dst_was_empty", None)
        waiting = [k for k in data if k.startswith(_WAITING)]
        data["restoring"] = sum(int(data.pop(k)) for k in waiting)
        data["listing_done"] = data.get("listing_done") == "1"
        data["dry_run"] = data.get("dry_run") == "1"
        return MigrationProgress(migration_id=self.migration_id, **data)

    async def iter_records(self, chunk: int = 5000) -> AsyncIterator[list[bytes]]:
        """Yields the report lines in order, a chunk at a time."""
        start = 0
        while True:
            lines = await cast(
                Awaitable[list[bytes]], self.redis.lrange(self.records, start, start + chunk - 1)
            )
            if not lines:
                return
            yield lines
            start += len(lines)

    async def finish(
        self, report_bucket: str | None, report_key: str | None, *, status: str = "done"
    ) -> None:
        """Marks the job finished (``done`` or ``cancelled``), keeping its state a while."""
        mapping: dict[str, Any] = {"status": status, "finished_at": time.time()}
        if report_bucket and report_key:
            mapping |= {"report_bucket": report_bucket, "report_key": report_key}
        async with atomic(self.redis) as tx:
            tx.hset(self.hash, mapping=mapping)
            for key in (self.hash, self.records, self.batches, self.steps):
                tx.expire(key, _TTL)
            await tx.execute()
