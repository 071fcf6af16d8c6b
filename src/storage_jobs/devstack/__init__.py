"""Embedded servers for tests, benchmarks and local development.

Imports are lazy so ``python -m storage_jobs.devstack.faultproxy`` does not import its own
module twice and so importing the package does not pull in boto3/aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage_jobs.devstack.faultproxy import FaultProxy, FaultRules
    from storage_jobs.devstack.ports import free_port
    from storage_jobs.devstack.redis import RedisServer
    from storage_jobs.devstack.seaweedfs import S3Identity, SeaweedFS

__all__ = ["FaultProxy", "FaultRules", "RedisServer", "S3Identity", "SeaweedFS", "free_port"]

_MODULES = {
    "FaultProxy": "faultproxy",
    "FaultRules": "faultproxy",
    "RedisServer": "redis",
    "S3Identity": "seaweedfs",
    "SeaweedFS": "seaweedfs",
    "free_port": "ports",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
