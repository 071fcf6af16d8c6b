"""Every Redis key storage-jobs uses, in one place.

arq's own keys (``arq:job:<id>``, ``arq:result:<id>``, ``arq:in-progress:<id>``,
``arq:retry:<id>`` and the queue's sorted set) are shared with arq and must keep arq's names;
they are spelled here rather than imported so producers need not import arq (whose package
imports its worker). ``tests/queue/test_keys.py`` holds them equal to ``arq.constants``.

Who writes and reads each key is drawn in ``docs/architecture.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ATTEMPTS_TTL_S",
    "LANES",
    "PARKED_LANE_TTL_S",
    "STATE_PREFIX",
    "Priority",
    "QueueKeys",
    "check_priority",
    "state_key",
]

Priority = Literal["high", "normal", "bulk"]
"""A job's lane: workers take ``high``, then ``normal``, then ``bulk`` (``queue._claim``)."""

LANES: tuple[Priority, ...] = ("high", "normal", "bulk")
"""The lanes in the order workers take from them."""


def check_priority(priority: object) -> Priority:
    """The priority itself, if it is one of ``LANES``.

    Raises:
        ValueError: If it is not.
    """
    if priority not in LANES:
        raise ValueError(f"priority must be one of 'high', 'normal', 'bulk'; got {priority!r}")
    return priority


job_key_prefix = "arq:job:"
result_key_prefix = "arq:result:"
in_progress_key_prefix = "arq:in-progress:"
retry_key_prefix = "arq:retry:"
abort_jobs_ss = "arq:abort"
"""arq's sorted set of aborted job ids (arq writes it; we tidy it)."""

ATTEMPTS_TTL_S = 88_400
"""Lifetime (s) of arq's attempt counter (``QueueKeys.retry``), as arq sets it."""

PARKED_LANE_TTL_S = 30 * 24 * 3600
"""Lifetime (s) of the name of the lane a paused prefix job's batches were parked from."""


STATE_PREFIX = "storage-jobs:state:"
"""What every key of a job's state starts with."""


def state_key(job_id: str, name: str) -> str:
    """The key of one piece of a job's crash-safe state (progress, delete rounds, ...)."""
    return f"{STATE_PREFIX}{job_id}:{name}"


@dataclass(frozen=True)
class QueueKeys:
    """The key names of one queue.

    Attributes:
        queue: The arq queue's sorted set (job id -> run-at time in ms): the ``normal`` lane.
    """

    queue: str

    def lane(self, priority: Priority) -> str:
        """The sorted set of one lane: ``normal`` is arq's queue, the others are their own."""
        if priority == "normal":
            return self.queue
        return f"storage-jobs:{self.queue}:lane:{priority}"

    @property
    def lanes(self) -> list[str]:
        """The lanes' sorted sets, in ``LANES`` order (high, normal, bulk)."""
        return [self.lane(p) for p in LANES]

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
    def paused(self) -> str:
        """Set while the queue is paused: workers finish what they run and take nothing new."""
        return f"storage-jobs:{self.queue}:paused"

    @property
    def control(self) -> str:
        """Set while any cancel marker or paused prefix job of this queue may exist.

        Every writer of a marker extends it to at least the marker's lifetime, so it is never
        unset while a marker lives; the claim checks each job's markers only while it is set.
        """
        return f"storage-jobs:{self.queue}:control"

    @staticmethod
    def cancel(job_id: str) -> str:
        """A job's cancel marker (lives as long as a result would, so no cancel is lost)."""
        return state_key(job_id, "cancel")

    @staticmethod
    def job_paused(job_id: str) -> str:
        """Set while a prefix job is paused: its batches are parked and its listing waits."""
        return state_key(job_id, "paused")

    @staticmethod
    def parked(job_id: str) -> str:
        """Sorted set of a paused prefix job's batches taken off the queue (id -> score)."""
        return state_key(job_id, "parked")

    @staticmethod
    def parked_lane(job_id: str) -> str:
        """The lane a paused prefix job's batches were parked from (all its batches share one).

        The claim writes it when it parks a batch; resume puts them back there.
        """
        return state_key(job_id, "parked-lane")

    @property
    def wake(self) -> str:
        """List a producer pushes to so an idle worker wakes at once instead of polling."""
        return f"storage-jobs:{self.queue}:wake"

    @property
    def done_channel(self) -> str:
        """Pub/sub channel the worker announces finished job ids on (a JSON list per batch)."""
        return f"storage-jobs:{self.queue}:done"

    def finished(self, outcome: str) -> str:
        """Capped sorted set of recently finished job ids by time.

        ``outcome`` is ``complete``, ``failed`` or ``cancelled``.
        """
        return f"storage-jobs:{self.queue}:finished:{outcome}"

    @property
    def events(self) -> str:
        """Stream of completion events (``_events``), trimmed by length; one per shard."""
        return f"storage-jobs:{self.queue}:events"

    def history(self, minute: int) -> str:
        """Hash of one minute's outcome counters (``minute`` is Unix time // 60); expires."""
        return f"storage-jobs:{self.queue}:history:{minute}"

    def rate(self, bucket: str) -> str:
        """A bucket's shared request schedule (its GCRA arrival time, µs); expires when idle."""
        return f"storage-jobs:{self.queue}:rate:{bucket}"

    @property
    def meta(self) -> str:
        """Hash of what every producer and worker of the queue must agree on (``shards``).

        Named after the logical queue, never a shard: one key, read before any shard is.
        """
        return f"storage-jobs:{self.queue}:meta"

    @property
    def prefix_jobs(self) -> str:
        """Capped sorted set of migration and prefix delete ids by start time."""
        return f"storage-jobs:{self.queue}:prefix-jobs"

    @property
    def dashboard_secret(self) -> str:
        """The dashboard's cookie-signing secret: random, generated once, never the token."""
        return f"storage-jobs:{self.queue}:dashboard:secret"

    def dashboard_session(self, sid: str) -> str:
        """A logged-in dashboard session (expires with the login; deleted at logout)."""
        return f"storage-jobs:{self.queue}:dashboard:session:{sid}"

    def login_failures(self, client: str) -> str:
        """Failed dashboard logins from one client address this minute (expires)."""
        return f"storage-jobs:{self.queue}:dashboard:login-failures:{client}"
