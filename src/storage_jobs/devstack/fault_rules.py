"""FaultRules: what a FaultProxy breaks, and the draw that picks a request's fault."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["FaultRules"]


@dataclass
class FaultRules:
    """What to break; mutable so a test can change it while the proxy runs.

    Request-level faults (latency, 503, 500, reset) apply to requests matching ``methods``
    (empty = all) and ``path_prefix``. Rates are drawn from ``random.Random(seed)``, one draw
    per matching request, so the same request sequence gets the same faults.
    """

    seed: int = 0
    slowdown_rate: float = 0.0
    internal_error_rate: float = 0.0
    reset_rate: float = 0.0
    latency_s: float = 0.0
    answer_delay_s: float = 0.0
    """Seconds a matching request's answer is held after the upstream did the work (a client
    that dies meanwhile did the S3 work without seeing it done); 0 releases held answers."""
    delete_errors: dict[str, str] = field(default_factory=dict)
    delete_error_times: dict[str, int] = field(default_factory=dict)
    delete_error_rate: float = 0.0
    delete_error_codes: tuple[str, ...] = ("InternalError",)
    methods: frozenset[str] = frozenset()
    path_prefix: str = ""
    corrupt_get_paths: frozenset[str] = frozenset()
    """Paths (``/bucket/key``, as aiohttp decodes them) whose GET bodies come back with their first
    byte flipped: a destination that reads back wrong, for verification tests."""
    deny_copy_sources: str = ""
    """A ``bucket/key`` prefix: copies from sources under it are answered 403 AccessDenied."""

    def matches(self, method: str, path: str) -> bool:
        """Return whether request-level faults apply to this request."""
        return (not self.methods or method in self.methods) and path.startswith(self.path_prefix)

    def draw(self, rng: random.Random) -> str | None:
        """One draw for a matching request: ``slowdown``, ``internal_error``, ``reset`` or None."""
        draw = rng.random()
        if draw < self.slowdown_rate:
            return "slowdown"
        if draw < self.slowdown_rate + self.internal_error_rate:
            return "internal_error"
        if draw < self.slowdown_rate + self.internal_error_rate + self.reset_rate:
            return "reset"
        return None
