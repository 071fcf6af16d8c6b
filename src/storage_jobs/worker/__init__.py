"""The worker: arq hardened with leases, supervision, heartbeats and dead letters.

``storage-jobs worker`` runs ``build_worker(Settings())``. For arq's own CLI,
``arq storage_jobs.worker.WorkerSettings`` builds its settings from the environment when read.
"""

from typing import Any

from ._build import build_worker, worker_settings
from ._codec import JobFailure, decode, encode
from ._runtime import WorkerRuntime
from ._worker import StorageWorker

__all__ = [
    "JobFailure",
    "StorageWorker",
    "WorkerRuntime",
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
