"""Parts of a multipart upload, each in one of a few part-sized buffers reused part after part.

A part goes out as the ``BytesIO`` it was read (or copied) into: botocore hashes it for the
signature and aiohttp sends it from that buffer 256 KiB at a time, so a part in flight costs its
size once. Once its request is answered, its buffer takes the next part. An upload allocates at
most ``limit`` buffers, once. What this replaced cost more than its parts: a fresh 8 MiB block
per part (a page fault per 4 KiB page touched), a second whole copy once aiohttp unshared the
``BytesIO`` botocore wraps a bytes body in, and glibc kept the freed blocks in its heap (after
the first free of a block that size its mmap threshold rises past them), so the process's RSS
held the freed parts as well as the live ones.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["PartBuffers", "PooledPart", "gather_parts", "read_parts"]


class PartBuffers:
    """At most ``limit`` part buffers of ``size`` bytes; a buffer given back is taken again.

    Args:
        size: Bytes per buffer (the part size).
        limit: Buffers that may exist at once: the parts read ahead and in flight.
    """

    def __init__(self, size: int, limit: int) -> None:
        """Starts with no buffer: each is allocated when first needed."""
        self.size = size
        self.limit = limit
        self.created = 0
        self._free: list[io.BytesIO] = []

    def take(self) -> io.BytesIO:
        """A given-back buffer (``size`` bytes, rewound), or a new empty one (it grows as written).

        Raises:
            RuntimeError: When all ``limit`` buffers are taken (the caller's slots leaked).
        """
        if self._free:
            body = self._free.pop()
            body.seek(0)
            return body
        if self.created >= self.limit:
            raise RuntimeError(f"all {self.limit} part buffers are in use")
        self.created += 1
        return io.BytesIO()

    def give(self, body: io.BytesIO, *, reuse: bool = True) -> None:
        """Takes a buffer back for the next part, or drops it (``reuse=False``, or shortened).

        A dropped buffer no longer counts against ``limit``: a new one may take its place.
        """
        if reuse and len(body.getbuffer()) == self.size:
            self._free.append(body)
        else:
            self.created -= 1


@dataclass(eq=False)
class PooledPart:
    """One part in a pooled buffer; ``release`` gives the buffer back once the part is sent.

    Attributes:
        body: The buffer, exactly the part's bytes long.
        buffers: Where the buffer goes back to.
    """

    body: io.BytesIO
    buffers: PartBuffers
    _released: bool = field(default=False, repr=False)

    def __len__(self) -> int:
        """The part's size in bytes."""
        return len(self.body.getbuffer())

    @contextlib.contextmanager
    def view(self) -> Iterator[memoryview]:
        """The part's bytes without a copy (for checksums), valid inside the ``with``."""
        with self.body.getbuffer() as view:
            yield view

    def request_body(self) -> io.BytesIO:
        """The buffer, rewound: what a request sends (botocore rewinds it again on a retry)."""
        self.body.seek(0)
        return self.body

    def release(self, *, reuse: bool = True) -> None:
        """Gives the buffer back once, for the next part or (``reuse=False``) to be dropped.

        Reuse only a buffer nothing reads any more: one whose request was answered.
        """
        if not self._released:
            self._released = True
            self.buffers.give(self.body, reuse=reuse)


def _ended(body: io.BytesIO, filled: int, buffers: PartBuffers) -> PooledPart | None:
    # A short part is the stream's last: cut to its length (its buffer is then not reused).
    if filled == 0:
        buffers.give(body)
        return None
    if filled < len(body.getbuffer()):
        body.truncate(filled)
    return PooledPart(body, buffers)


async def read_parts(
    readinto: Callable[[memoryview], int | None], buffers: PartBuffers
) -> AsyncIterator[PooledPart]:
    """Reads a file straight into pooled buffers: whole parts, a short one only at the end.

    The caller must release the parts it received before it asks for more than
    ``buffers.limit`` of them (the upload's slots see to it).

    Args:
        readinto: The file's ``readinto`` (it may return fewer bytes than asked).
        buffers: The pool the parts are read into.

    Raises:
        BlockingIOError: From a non-blocking file with no data ready (``readinto`` gave
            ``None``): taking that for the end would store a truncated object.
    """
    while True:
        body = buffers.take()
        if len(body.getbuffer()) < buffers.size:
            # A new buffer: size it once (later parts reuse it as it is).
            body.seek(buffers.size - 1)
            body.write(b"\0")
        filled = 0
        with body.getbuffer() as view:
            while filled < buffers.size:
                with view[filled:] as rest:
                    got = readinto(rest)
                if got is None:
                    raise BlockingIOError("the stream is non-blocking and had no data ready")
                if got == 0:
                    break
                filled += got
        part = _ended(body, filled, buffers)
        if part is None:
            return
        yield part
        if filled < buffers.size:
            return


async def gather_parts(
    chunks: AsyncIterator[bytes], buffers: PartBuffers
) -> AsyncIterator[PooledPart]:
    """Copies a stream's chunks, of any sizes, into pooled buffers: whole parts but the last.

    Each byte is copied once; the caller's chunks are only read. The caller must release
    parts as ``read_parts`` says.

    Args:
        chunks: The stream's bytes (any bytes-like objects).
        buffers: The pool the parts are copied into.
    """
    size = buffers.size
    body: io.BytesIO | None = None
    filled = 0
    async for chunk in chunks:
        with memoryview(chunk) as whole, whole.cast("B") as rest:
            start = 0
            while start < len(rest):
                if body is None:
                    # Taken when its first byte arrives, inside the caller's request for it.
                    body, filled = buffers.take(), 0
                step = min(len(rest) - start, size - filled)
                body.write(rest[start : start + step])
                start += step
                filled += step
                if filled == size:
                    yield PooledPart(body, buffers)
                    body = None
    if body is not None and (part := _ended(body, filled, buffers)) is not None:
        yield part
