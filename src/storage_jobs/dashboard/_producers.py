"""Who may enqueue over HTTP: the producer tokens (``STORAGE_JOBS_PRODUCER_TOKENS``).

A producer token opens the enqueue API only; the dashboard's token opens the dashboard only
(``Settings`` refuses a producer token equal to it). With no producer token the API is off.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr
    from starlette.datastructures import Headers

__all__ = ["Producers"]


def _digest(token: str) -> bytes:
    # Tokens are compared as digests: equal lengths, so the comparison says nothing of length.
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Producers:
    """The producers' names and the digests of their tokens."""

    digests: tuple[tuple[str, bytes], ...]

    @classmethod
    def build(cls, tokens: Mapping[str, SecretStr]) -> Producers:
        """From the settings' name -> token mapping."""
        return cls(tuple((name, _digest(t.get_secret_value())) for name, t in tokens.items()))

    @property
    def enabled(self) -> bool:
        """Whether any producer may enqueue (with none, the API is off)."""
        return bool(self.digests)

    def producer(self, headers: Headers) -> str | None:
        """The name of the producer whose token ``Authorization: Bearer`` carries, if any.

        Every token is compared, in constant time, whichever matches.
        """
        scheme, _, offered = headers.get("authorization", "").partition(" ")
        offered = offered.strip()
        if scheme.lower() != "bearer" or not offered:
            return None
        digest = _digest(offered)
        found = None
        for name, expected in self.digests:
            if hmac.compare_digest(digest, expected):
                found = name
        return found
