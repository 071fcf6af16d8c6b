"""The retry budget: every layer's attempts, their product, and the cap Settings enforces."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from storage_jobs.jobs import RetryBudget
from storage_jobs.settings import Settings


def test_default_worst_case_is_written_down() -> None:
    """Defaults: 3 botocore attempts x 5 delete rounds x 6 runs = 90 requests for one key."""
    budget = Settings().retry_budget()
    assert (budget.request_attempts, budget.delete_attempts, budget.migrate_attempts) == (3, 5, 5)
    assert budget.crash_attempts == 6
    assert budget.worst_case_requests_per_key == 90


def test_migration_has_its_own_per_object_attempts() -> None:
    """A migrated object's attempts follow MIGRATE_MAX_ATTEMPTS, not the delete setting."""
    settings = Settings(delete_max_attempts=9, migrate_max_attempts=2)
    budget = settings.retry_budget()
    assert budget.migrate_object().max_attempts == 2
    assert budget.delete_key().max_attempts == 9
    assert budget.job().max_attempts == settings.max_tries


def test_policies_share_the_backoff() -> None:
    """Every layer of ours backs off with the configured base and cap."""
    budget = RetryBudget(base_delay=0.5, max_delay=7)
    for policy in (budget.job(), budget.delete_key(), budget.migrate_object()):
        assert (policy.base_delay, policy.max_delay) == (0.5, 7)


def test_a_budget_past_the_cap_is_refused() -> None:
    """20 x 100 x 101 requests for one key is refused at configuration, naming the cap."""
    with pytest.raises(ValidationError, match="MAX_REQUESTS_PER_KEY"):
        Settings(s3_max_attempts=20, delete_max_attempts=100, max_tries=100)


def test_raising_the_cap_on_purpose_allows_it() -> None:
    """An operator who wants more retries raises the cap too."""
    settings = Settings(s3_max_attempts=5, max_tries=20, max_requests_per_key=1000)
    assert settings.retry_budget().worst_case_requests_per_key == 5 * 5 * 21
