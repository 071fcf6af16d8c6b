"""The arq internals StorageWorker overrides or leans on, held to the pinned arq's shapes.

arq has no stable subclassing API. When an upgrade changes a method we override, this test
fails with the method's name and both signatures, before a worker misbehaves in production.
"""

from __future__ import annotations

import hashlib
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
    "run_job": ["self", "job_id", "score"],
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
    # _poll_once (arq's _poll_iteration with the batched claim)
    "allow_abort_jobs",
    "_cancel_aborted_jobs",
    "heart_beat",
    "keep_result_s",
    # _run.run_claimed (arq's run_job after its start pipeline)
    "functions",
    "max_tries",
    "job_timeout_s",
    "on_job_start",
    "on_job_end",
    "after_job_end",
    "retry_jobs",
    "aborting_tasks",
    "log_results",
    "keep_result_forever",
    "job_serializer",
    "job_deserializer",
    "loop",
    "queue_name",
]

# sha256 of arq 0.28.0's Worker.run_job source, which _run.run_claimed copies from its start
# pipeline on: any change to it in arq must be looked at and carried over.
RUN_JOB_SHA256 = "589a19059ff84ee777552dc9fa5ff76b17d6d0d7f99716d2720a2ed07ccb9607"


def test_arq_version_is_in_the_pinned_range() -> None:
    """The installed arq is one the overrides were tested against (pyproject pins the same)."""
    major, minor, *_ = (int(p) for p in importlib.metadata.version("arq").split("."))
    assert (major, minor) >= (0, 26), "arq older than 0.26: overrides untested"
    assert (major, minor) < (0, 29), "arq newer than 0.28: re-check StorageWorker's overrides"


def test_run_job_is_the_one_run_claimed_was_copied_from() -> None:
    """The run_job of arq is the one ``_run.run_claimed`` was copied from."""
    source = inspect.getsource(Worker.run_job)
    assert hashlib.sha256(source.encode()).hexdigest() == RUN_JOB_SHA256, (
        "arq.worker.Worker.run_job changed: carry the change over to "
        "storage_jobs.worker._run.run_claimed, then record the new hash"
    )


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
