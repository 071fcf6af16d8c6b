"""The arq internals StorageWorker overrides or leans on, held to the pinned arq's shapes.

arq has no stable subclassing API. When an upgrade changes a method we override, this test
fails with the method's name and both signatures, before a worker misbehaves in production.
"""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest
from arq.worker import Worker

from storage_jobs.worker import StorageWorker

# Parameter names of each arq method StorageWorker overrides, as in the pinned arq (0.26-0.28).
OVERRIDDEN: dict[str, list[str]] = {
    "main": ["self"],
    "_poll_iteration": ["self"],
    "_release_sem_dec_counter_on_complete": ["self"],
    "start_jobs": ["self", "job_ids"],
    "finish_job": [
        "self",
        "job_id",
        "finish",
        "result_data",
        "result_timeout_s",
        "keep_result_forever",
        "incr_score",
        "keep_in_progress",
    ],
    "record_health": ["self"],
    "close": ["self"],
    "finish_failed_job": ["self", "job_id", "result_data"],
}

# Methods and attributes of arq's Worker that the overrides call or read.
LEANED_ON = [
    "run_job",
    "tasks",
    "job_tasks",
    "sem",
    "job_counter",
    "allow_pick_jobs",
    "poll_delay_s",
    "in_progress_timeout_s",
    "jobs_complete",
    "jobs_failed",
    "jobs_retried",
    "health_check_key",
    "health_check_interval",
    "expires_extra_ms",
    "_pool",
    "ctx",
    "burst",
]


def test_arq_version_is_in_the_pinned_range() -> None:
    """The installed arq is one the overrides were tested against (pyproject pins the same)."""
    major, minor, *_ = (int(p) for p in importlib.metadata.version("arq").split("."))
    assert (major, minor) >= (0, 26), "arq older than 0.26: overrides untested"
    assert (major, minor) < (0, 29), "arq newer than 0.28: re-check StorageWorker's overrides"


def test_the_recorded_overrides_are_all_the_overrides() -> None:
    """A new override must be recorded here, so its arq signature is watched too."""
    overridden = {
        name
        for name, member in vars(StorageWorker).items()
        if callable(member) and name != "__init__" and hasattr(Worker, name)
    }
    assert overridden == set(OVERRIDDEN)


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_overridden_arq_method_keeps_its_signature(name: str) -> None:
    """Each overridden arq method still takes the parameters our override was written for."""
    params = list(inspect.signature(getattr(Worker, name)).parameters)
    assert params == OVERRIDDEN[name], (
        f"arq.worker.Worker.{name} now takes {params}, not {OVERRIDDEN[name]}: "
        f"storage_jobs.worker.StorageWorker.{name} overrides it; re-check the override "
        "against the new arq and update the pinned range in pyproject.toml"
    )


def test_arq_members_the_overrides_use_exist() -> None:
    """The attributes and methods the overrides read are still on arq's Worker."""

    async def noop(ctx: dict[str, object]) -> None:
        """A function for arq to register."""

    worker = Worker(functions=[noop], queue_name="q", handle_signals=False)
    missing = [name for name in LEANED_ON if not hasattr(worker, name)]
    assert missing == [], f"arq's Worker lost {missing}; StorageWorker relies on them"
