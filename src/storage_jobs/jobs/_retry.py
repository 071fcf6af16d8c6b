"""The one retry policy: which failures deserve another attempt, and when."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..storage import StorageError

__all__ = ["RETRYABLE_CODES", "RetryPolicy", "is_retryable", "is_retryable_code"]

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
