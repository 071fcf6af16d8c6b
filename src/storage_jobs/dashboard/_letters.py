"""Dead letters read for the dashboard: sizes first, so a page reads a bounded number of bytes.

Each listed letter's size is asked (``HSTRLEN``) before it is read: one larger than any letter
the store writes is shown unread, and a page stops reading once ``PAGE_BYTES`` are spent (its
``next_offset`` continues from there). A letter that does not parse is shown with its cause.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from ..queue import MAX_KEPT_PAYLOAD, DeadLetter
from ._unreadable import UNREADABLE, cause_of

if TYPE_CHECKING:
    from ..queue import Queue

__all__ = ["LETTER_BYTES", "PAGE_BYTES", "LetterRead", "read_letter", "read_letters"]

LETTER_BYTES = 2 * MAX_KEPT_PAYLOAD
"""Bytes of one dead letter read at most: above its kept payload base64-encoded, with its
message; a larger one was not written by the store."""

PAGE_BYTES = 16 * 1024 * 1024
"""Dead-letter bytes one page (or one filtered window) reads at most."""


@dataclass(frozen=True)
class LetterRead:
    """One listed dead letter: the letter, or why it could not be read (neither: none)."""

    job_id: str
    letter: DeadLetter | None = None
    cause: str | None = None
    size: int = 0
    """Bytes read for it."""


async def read_letters(
    queue: Queue, job_ids: list[str], *, budget: int | None = PAGE_BYTES
) -> list[LetterRead]:
    """The dead letters of the first of ``job_ids`` that fit in ``budget`` bytes, in order.

    At least one id is read whatever its size; ``budget`` None: every id. Each letter is read
    on its job's shard: one round trip for the sizes, one ``HMGET`` per shard read.
    """
    if not job_ids:
        return []
    redis, key_of = queue.redis, queue.listings.dead_data
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hstrlen(key_of(job_id), job_id)
        sizes = await pipe.execute(raise_on_error=False)
    taken: list[tuple[str, int]] = []
    spent = 0
    for job_id, size in zip(job_ids, sizes, strict=True):
        if isinstance(size, Exception):
            return [LetterRead(i, cause=cause_of(size)) for i in job_ids]
        cost = min(int(size), LETTER_BYTES)
        if taken and budget is not None and spent + cost > budget:
            break
        taken.append((job_id, int(size)))
        spent += cost
    groups: dict[str, list[str]] = {}
    for job_id, size in taken:
        if 0 < size <= LETTER_BYTES:
            groups.setdefault(key_of(job_id), []).append(job_id)
    raws: dict[str, bytes | None] = {}
    for key, wanted in groups.items():
        got = await cast(Awaitable[list[bytes | None]], redis.hmget(key, wanted))
        raws.update(zip(wanted, got, strict=True))
    found = []
    for job_id, size in taken:
        if size > LETTER_BYTES:
            found.append(LetterRead(job_id, cause=f"too large to read ({size:,} bytes)"))
            continue
        raw = raws.get(job_id)
        try:
            letter = None if raw is None else DeadLetter.model_validate_json(raw)
        except UNREADABLE as exc:
            found.append(LetterRead(job_id, cause=cause_of(exc), size=size))
            continue
        found.append(LetterRead(job_id, letter=letter, size=size))
    return found


async def read_letter(queue: Queue, job_id: str) -> LetterRead:
    """One dead letter, bounded like a page's (either spelling of a sharded queue's id)."""
    (read,) = await read_letters(queue, [queue.job_id(job_id)], budget=None)
    return read
