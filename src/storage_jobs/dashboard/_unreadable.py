"""What the dashboard does with data it cannot read: a row with the id and the cause, not a 500.

Redis may hold anything: a payload nested deeper than the parser goes, a key of the wrong
type, truncated JSON, a letter of another shape. Each read of one listed item catches these
(and only these) and names the cause.
"""

from __future__ import annotations

from pydantic import ValidationError
from redis.exceptions import ResponseError

from ._answers import Unreadable

__all__ = ["UNREADABLE", "cause_of", "unreadable"]

UNREADABLE: tuple[type[Exception], ...] = (
    RecursionError,  # JSON nested deeper than the parser's stack
    ValueError,  # not JSON, truncated, not UTF-8, a model that does not validate
    ResponseError,  # WRONGTYPE: the key holds another kind of value
    TypeError,  # JSON of another shape (a list where an object belongs...)
    AttributeError,
    KeyError,
    IndexError,
)
"""The errors that mean "the stored data is bad", never a bug of the dashboard's own."""


def cause_of(exc: BaseException) -> str:
    """A short, safe description of why something could not be read (no stored bytes echoed)."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, ResponseError):
        said = str(exc)
        return "WRONGTYPE: the key holds another kind of value" if "WRONGTYPE" in said else said
    kind = type(exc).__name__
    if isinstance(exc, ValidationError):
        first_error = exc.errors()[0]
        where = ".".join(str(p) for p in first_error["loc"]) or "value"
        return f"does not validate: {where}: {first_error['msg']}"[:200]
    if isinstance(exc, UnicodeDecodeError):
        return f"{kind}: not UTF-8"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{kind}: {first[:120]}" if first else kind


def unreadable(item_id: str, exc: BaseException) -> Unreadable:
    """The row for an item that could not be read."""
    return Unreadable(id=item_id, cause=cause_of(exc))
