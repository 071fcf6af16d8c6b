"""Problem sizes: ``full`` is the issue's, ``smoke`` a tiny one for CI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["FULL", "SMOKE", "Sizes", "sizes_for"]

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Sizes:
    """Every knob of every scenario."""

    name: str
    uploads: int = 10_000
    peer_uploads: int = 3_000
    upload_bytes: int = 1024
    upload_concurrency: int = 32
    deletes: int = 100_000
    delete_concurrency: int = 4
    enqueues: int = 100_000
    large_file_bytes: int = GiB
    pickups: int = 100
    idle_seconds: float = 10.0
    scaling_jobs: int = 400
    scaling_max_jobs: int = 8
    scaling_latency_s: float = 0.2
    migration_objects: int = 10_000
    migration_concurrency: int = 32
    redis_cost_jobs: int = 3_000
    lanes_objects: int = 20_000
    lanes_uploads: int = 50
    lanes_batch_size: int = 1000
    lanes_small_batch_size: int = 100
    lanes_max_jobs: int = 4

    def as_dict(self) -> dict[str, Any]:
        """The sizes as JSON-ready data."""
        return asdict(self)


FULL = Sizes("full")
SMOKE = replace(
    FULL,
    name="smoke",
    uploads=200,
    peer_uploads=100,
    deletes=2_000,
    enqueues=2_000,
    large_file_bytes=8 * MiB,
    pickups=20,
    idle_seconds=2.0,
    scaling_jobs=40,
    migration_objects=200,
    redis_cost_jobs=200,
    lanes_objects=600,
    lanes_uploads=5,
    lanes_batch_size=10,
    lanes_small_batch_size=5,
    lanes_max_jobs=2,
)


def sizes_for(name: str) -> Sizes:
    """The sizes called ``name``."""
    return {"full": FULL, "smoke": SMOKE}[name]
