"""The worker: our loop (claims, leases, heartbeats, batched finishes), handlers, plain arq.

The only package that imports arq (its ``Retry``, and the compatibility mode).
``storage-jobs worker`` runs ``build_worker(Settings())``. For arq's own CLI,
``arq storage_jobs.worker.WorkerSettings`` builds its settings from the environment when read.
"""

from typing import Any

from ..queue import JobFailure, decode, encode
from ._compat import worker_settings
from ._handlers import HANDLERS
from ._loop import StorageWorker, build_worker
from ._redis_settings import arq_redis_settings
from ._runtime import WorkerRuntime

__all__ = [
    "HANDLERS",
    "JobFailure",
    "StorageWorker",
    "WorkerRuntime",
    "arq_redis_settings",
    "build_worker",
    "decode",
    "encode",
    "worker_settings",
]


def __getattr__(name: str) -> Any:
    # Built when arq asks for it, from the environment at that moment: no import-time state.
    if name == "WorkerSettings":
        from ..settings import Settings

        return worker_settings(Settings())
    raise AttributeError(name)
