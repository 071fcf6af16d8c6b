"""arq's job envelope as the loop reads it, and the result record it writes in arq's format.

``queue._wire`` builds envelopes and reads both strictly; the loop reads an envelope as arq's
worker does (any arguments), so the runtime judges a malformed payload and dead-letters it as
``InvalidPayload`` with its kind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..queue import decode, encode
from ..tracing import TRACE_FIELD

__all__ = ["Envelope", "now_ms", "read_envelope"]


def now_ms() -> int:
    """The time in ms since the epoch (arq's scores and result times)."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Envelope:
    """A stored job's fields.

    Attributes:
        function: The queue function name.
        args: Its positional arguments (a storage job has one: the payload's JSON).
        kwargs: Its keyword arguments (a storage job has none).
        tries: The attempts it was enqueued with (arq's ``t``).
        enqueue_ms: When it was enqueued.
        fields: The envelope as read (what else rides in it is read from there on demand).
    """

    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    tries: int
    enqueue_ms: int
    fields: dict[str, Any] = field(repr=False, compare=False)

    @property
    def trace(self) -> object:
        """The producer's trace context, if it sent one (``tracing``)."""
        return self.fields.get(TRACE_FIELD)

    def result(
        self, job_id: str, queue: str, tries: int, start_ms: int, success: bool, value: Any
    ) -> bytes:
        """The result record, as arq's ``Job`` API reads it.

        Its arguments are left out: they are in the job already (megabytes, for inline data).
        """
        return encode(
            {
                "t": tries,
                "f": self.function,
                "a": [],
                "k": {},
                "et": self.enqueue_ms,
                "s": success,
                "r": value,
                "st": start_ms,
                "ft": now_ms(),
                "q": queue,
                "id": job_id,
            }
        )


def read_envelope(raw: bytes) -> Envelope:
    """Reads the envelope's fields as arq's worker does.

    Raises:
        ValueError: If it is not JSON or lacks arq's fields.
    """
    data = decode(raw)
    function, args, kwargs = data.get("f"), data.get("a"), data.get("k")
    enqueued, tries = data.get("et"), data.get("t")
    if not isinstance(function, str) or not isinstance(args, list):
        raise ValueError("not an arq job envelope (no function name or argument list)")
    if not isinstance(kwargs, dict) or not isinstance(enqueued, int):
        raise ValueError("not an arq job envelope (no keyword arguments or enqueue time)")
    tries = tries if isinstance(tries, int) else 0
    return Envelope(function, tuple(args), kwargs, tries, enqueued, data)
