"""The one retry policy: which failures deserve another attempt, when, and how many in all.

Three layers retry, each for its own reason, and their attempts multiply:

=================  ===========================================  ==============================
layer              retries                                      setting (default)
=================  ===========================================  ==============================
request            one S3 request, inside botocore              ``S3_MAX_ATTEMPTS`` (3)
key                one key inside a job: a bulk delete's        ``DELETE_MAX_ATTEMPTS`` (5),
                   per-key rounds, a migrated object's copy     ``MIGRATE_MAX_ATTEMPTS`` (5)
job                the whole job (transient failure or crash)   ``MAX_TRIES`` (5), +1 for crashes
=================  ===========================================  ==============================

So one key costs at most ``request x key x (job + 1)`` S3 requests: 3 x 5 x 6 = 90 for a
deleted key or a migrated object with the defaults (a migrated object's attempt is at least
a HEAD and a copy: five attempts keep the chaos run's 6 % fault rate from failing one of its
150 objects). ``RetryBudget`` computes it, and ``Settings`` refuses a configuration whose worst
case passes ``MAX_REQUESTS_PER_KEY`` (250 unless raised on purpose).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..storage import StorageError

__all__ = [
    "DEFAULT_MAX_REQUESTS_PER_KEY",
    "RETRYABLE_CODES",
    "RetryBudget",
    "RetryPolicy",
    "is_retryable",
    "is_retryable_code",
]

DEFAULT_MAX_REQUESTS_PER_KEY = 250
"""The default cap on the S3 requests one key may cost, retries of every layer included."""

RETRYABLE_CODES = frozenset(
    {
        "InternalError",
        "SlowDown",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "OperationAborted",
        "NetworkError",
        "500",
        "502",
        "503",
        "504",
    }
)
"""S3 error codes that say "try again later"; any other code is final."""


def is_retryable_code(code: str) -> bool:
    """Whether a per-key or request error code is worth another attempt."""
    return code in RETRYABLE_CODES


def is_retryable(error: BaseException) -> bool:
    """Whether a failure is transient: throttling, 5xx, timeouts, lost connections."""
    if not isinstance(error, StorageError):
        return False
    if is_retryable_code(error.code):
        return True
    return error.status is not None and (error.status >= 500 or error.status in (408, 429))


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter.

    Attributes:
        max_attempts: Attempts in all, the first one included.
        base_delay: Delay before the second attempt, before jitter.
        max_delay: Cap on any one delay.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        "Equal jitter": half the exponential delay is fixed, half random, so retries of many
        workers spread out without ever retrying at once.
        """
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** max(attempt - 1, 0))
        draw = (rng or random).random()
        return ceiling / 2 + draw * ceiling / 2

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt is allowed after attempt number ``attempt``."""
        return attempt < self.max_attempts


@dataclass(frozen=True)
class RetryBudget:
    """Every layer's attempts, and the worst case they multiply to.

    Attributes:
        request_attempts: Attempts per S3 request (botocore's ``total_max_attempts``).
        delete_attempts: Rounds per key of a bulk delete.
        migrate_attempts: Copy attempts per object of a migration batch.
        job_attempts: Runs per job for transient failures (crashes add one more).
        base_delay: Backoff before the second attempt (job and key layers).
        max_delay: Cap on any one backoff.
    """

    request_attempts: int = 3
    delete_attempts: int = 5
    migrate_attempts: int = 5
    job_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    @property
    def crash_attempts(self) -> int:
        """Runs of a job arq allows: one more than ``job_attempts``.

        A crash on the last transient retry still gets its run.
        """
        return self.job_attempts + 1

    @property
    def worst_case_requests_per_key(self) -> int:
        """The most S3 requests one key can cost, every layer retrying to its end."""
        per_key = max(self.delete_attempts, self.migrate_attempts)
        return self.request_attempts * per_key * self.crash_attempts

    def job(self) -> RetryPolicy:
        """Backoff between runs of a whole job."""
        return RetryPolicy(self.job_attempts, self.base_delay, self.max_delay)

    def delete_key(self) -> RetryPolicy:
        """Backoff between per-key rounds of a bulk delete."""
        return RetryPolicy(self.delete_attempts, self.base_delay, self.max_delay)

    def migrate_object(self) -> RetryPolicy:
        """Backoff between copy attempts of one migrated object."""
        return RetryPolicy(self.migrate_attempts, self.base_delay, self.max_delay)
