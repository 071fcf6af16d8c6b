"""Every Redis key storage-jobs uses, in one place.

arq's own keys (``arq:job:<id>``, ``arq:result:<id>``, ``arq:in-progress:<id>``,
``arq:retry:<id>`` and the queue's sorted set) are shared with arq and must keep arq's names.
"""

from __future__ import annotations

from dataclasses import dataclass

from arq.constants import (
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

__all__ = ["QueueKeys"]


@dataclass(frozen=True)
class QueueKeys:
    """The key names of one queue.

    Attributes:
        queue: The arq queue's sorted set (job id -> run-at time in ms).
    """

    queue: str

    @staticmethod
    def job(job_id: str) -> str:
        """The serialized job (arq's key)."""
        return job_key_prefix + job_id

    @staticmethod
    def result(job_id: str) -> str:
        """The serialized result (arq's key)."""
        return result_key_prefix + job_id

    @staticmethod
    def in_progress(job_id: str) -> str:
        """The lease a worker holds while running the job (arq's key)."""
        return in_progress_key_prefix + job_id

    @staticmethod
    def retry(job_id: str) -> str:
        """Arq's attempt counter."""
        return retry_key_prefix + job_id

    @property
    def dead_index(self) -> str:
        """Sorted set of dead-lettered job ids by time of death."""
        return f"storage-jobs:{self.queue}:dead"

    @property
    def dead_data(self) -> str:
        """Hash of dead-lettered job id -> dead letter JSON."""
        return f"storage-jobs:{self.queue}:dead:data"

    @property
    def workers(self) -> str:
        """Sorted set of worker id -> last heartbeat (ms)."""
        return f"storage-jobs:{self.queue}:workers"

    def worker(self, worker_id: str) -> str:
        """Hash describing one live worker (expires with its heartbeat)."""
        return f"storage-jobs:{self.queue}:worker:{worker_id}"

    @property
    def wake(self) -> str:
        """List a producer pushes to so an idle worker wakes at once instead of polling."""
        return f"storage-jobs:{self.queue}:wake"
