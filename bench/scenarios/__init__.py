"""Every scenario, in the order they run."""

from __future__ import annotations

from ._base import Context, Scenario
from .deletes import Deletes
from .enqueue import Enqueue
from .http_enqueue import HttpEnqueue
from .lanes import Lanes
from .large_upload import LargeUpload
from .migration import Migration
from .peers import Peers
from .pickup import Pickup
from .redis_cost import RedisCost
from .redis_cost_cluster import RedisCostCluster
from .replica_wait import ReplicaWait
from .scaling import Scaling
from .tracing import Tracing
from .uploads import Uploads

__all__ = ["SCENARIOS", "Context", "Scenario", "all_scenarios"]

SCENARIOS: dict[str, type[Scenario]] = {
    "uploads": Uploads,
    "deletes": Deletes,
    "enqueue": Enqueue,
    "large_upload": LargeUpload,
    "pickup": Pickup,
    "scaling": Scaling,
    "migration": Migration,
    "redis_cost": RedisCost,
    "redis_cost_cluster": RedisCostCluster,
    "replica_wait": ReplicaWait,
    "peers": Peers,
    "lanes": Lanes,
    "http_enqueue": HttpEnqueue,
    "tracing": Tracing,
}


def all_scenarios(only: list[str] | None = None) -> list[Scenario]:
    """Fresh instances of the named scenarios (all by default)."""
    return [SCENARIOS[name]() for name in (only or list(SCENARIOS))]
