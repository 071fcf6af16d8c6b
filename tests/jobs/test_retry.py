"""The retry policy: which failures are transient, and how long to wait."""

from __future__ import annotations

import itertools
import random

import pytest

from storage_jobs.jobs import RETRYABLE_CODES, RetryPolicy, is_retryable, is_retryable_code
from storage_jobs.storage import (
    StorageAccessDeniedError,
    StorageBackendError,
    StorageBucketNotFoundError,
    StorageObjectNotFoundError,
    StoragePartialDeleteError,
)


@pytest.mark.parametrize(
    "error",
    [
        StorageBackendError("slow", code="SlowDown"),
        StorageBackendError("boom", code="InternalError", status=500),
        StorageBackendError("unavailable", code="Unknown", status=503),
        StorageBackendError("bad gateway", code="BackendError", status=502),
        StorageBackendError("timeout", code="Whatever", status=408),
        StorageBackendError("too many", code="Whatever", status=429),
        StorageBackendError("reset", code="NetworkError"),
        StorageBackendError("throttled", code="Throttling", status=400),
    ],
    ids=lambda e: f"{e.code}-{e.status}",
)
def test_transient_storage_errors_are_retryable(error: StorageBackendError) -> None:
    """Throttling codes, 5xx, 408, 429 and network failures deserve another attempt."""
    assert is_retryable(error)


@pytest.mark.parametrize(
    "error",
    [
        StorageAccessDeniedError("denied", status=403),
        StorageObjectNotFoundError("missing", status=404),
        StorageBucketNotFoundError("no bucket", status=404),
        StorageBackendError("bad request", code="InvalidArgument", status=400),
        StorageBackendError("unknown", code="BackendError"),
        StoragePartialDeleteError([{"key": "k", "code": "InternalError"}], []),
    ],
    ids=lambda e: f"{e.code}-{e.status}",
)
def test_permanent_storage_errors_are_not_retryable(error: Exception) -> None:
    """AccessDenied, NoSuchKey, NoSuchBucket, other 4xx and unknown codes are final."""
    assert not is_retryable(error)


@pytest.mark.parametrize(
    "error", [RuntimeError("SlowDown"), ValueError("503"), ConnectionError("reset")]
)
def test_non_storage_errors_are_not_retryable(error: Exception) -> None:
    """Only StorageError is classified here; other failures are never retried by is_retryable."""
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        ("SlowDown", True),
        ("InternalError", True),
        ("ServiceUnavailable", True),
        ("503", True),
        ("NetworkError", True),
        ("AccessDenied", False),
        ("NoSuchKey", False),
        ("slowdown", False),
        ("", False),
    ],
)
def test_retryable_codes(code: str, retryable: bool) -> None:
    """Per-key codes are matched exactly against RETRYABLE_CODES."""
    assert is_retryable_code(code) is retryable
    assert (code in RETRYABLE_CODES) is retryable


def test_delay_stays_within_equal_jitter_bounds() -> None:
    """Each delay lies in [ceiling/2, ceiling] with ceiling = base * 2^(attempt-1)."""
    policy = RetryPolicy(base_delay=1.0, max_delay=1000.0)
    rng = random.Random(1)
    for attempt in range(1, 9):
        ceiling = 2.0 ** (attempt - 1)
        for _ in range(50):
            delay = policy.delay(attempt, rng)
            assert ceiling / 2 <= delay <= ceiling


def test_delay_extremes_of_the_draw() -> None:
    """A draw of 0 gives exactly half the ceiling; a draw near 1 nearly the ceiling."""

    class Fixed(random.Random):
        def __init__(self, value: float) -> None:
            super().__init__()
            self.value = value

        def random(self) -> float:
            return self.value

    policy = RetryPolicy(base_delay=2.0, max_delay=100.0)
    assert policy.delay(3, Fixed(0.0)) == 4.0
    assert policy.delay(3, Fixed(0.999999)) == pytest.approx(8.0, abs=1e-4)


def test_delay_grows_exponentially() -> None:
    """With the same draw, every attempt doubles the delay until the cap."""
    policy = RetryPolicy(base_delay=0.5, max_delay=1000.0)
    delays = [policy.delay(a, random.Random(7)) for a in range(1, 7)]
    for before, after in itertools.pairwise(delays):
        assert after == pytest.approx(before * 2)


def test_delay_is_capped_at_max_delay() -> None:
    """Late attempts never wait longer than max_delay (nor less than half of it)."""
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    rng = random.Random(3)
    delays = [policy.delay(attempt, rng) for attempt in range(5, 60)]
    assert all(5.0 <= d <= 10.0 for d in delays)
    assert max(delays) > 9.0


def test_attempt_zero_or_below_counts_as_first() -> None:
    """Attempts below 1 use the base delay, never a fraction of it."""
    policy = RetryPolicy(base_delay=4.0)
    assert 2.0 <= policy.delay(0, random.Random(0)) <= 4.0
    assert 2.0 <= policy.delay(-3, random.Random(0)) <= 4.0


def test_seeded_rng_is_repeatable() -> None:
    """Two generators with the same seed give the same delays; another seed differs."""
    policy = RetryPolicy()
    first = [policy.delay(a, random.Random(42)) for a in range(1, 6)]
    same = [policy.delay(a, random.Random(42)) for a in range(1, 6)]
    other = [policy.delay(a, random.Random(43)) for a in range(1, 6)]
    assert first == same
    assert first != other


def test_zero_base_delay_never_sleeps() -> None:
    """base_delay=0 (what tests use) gives zero delays."""
    assert RetryPolicy(base_delay=0.0).delay(5) == 0.0


@pytest.mark.parametrize(
    ("max_attempts", "attempt", "expected"),
    [(3, 1, True), (3, 2, True), (3, 3, False), (3, 4, False), (1, 1, False)],
)
def test_should_retry(max_attempts: int, attempt: int, expected: bool) -> None:
    """Another attempt is allowed only while attempts stay below max_attempts."""
    assert RetryPolicy(max_attempts=max_attempts).should_retry(attempt) is expected
