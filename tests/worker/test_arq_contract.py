"""What we still take from arq, held to the pinned arq.

That is ``Retry``, ``func`` and its ``Worker`` for the plain-arq mode, and its key names
(``tests/queue/test_keys.py``).

Our loop (``StorageWorker``) is no arq ``Worker`` and copies none of its code; arq's ``Job`` API
reading our results is tested against a real worker in ``tests/worker/test_burst.py``.
"""

from __future__ import annotations

import importlib.metadata

from arq.worker import Retry, Worker

from storage_jobs.jobs import CATALOG
from storage_jobs.queue import decode, encode
from storage_jobs.settings import Settings
from storage_jobs.worker import StorageWorker, worker_settings


def test_arq_version_is_in_the_pinned_range() -> None:
    """The installed arq is one the compatibility mode was tested with (pyproject pins it)."""
    major, minor, *_ = (int(p) for p in importlib.metadata.version("arq").split("."))
    assert (0, 26) <= (major, minor) < (0, 29)


def test_our_loop_is_not_arqs_worker() -> None:
    assert Worker not in StorageWorker.__mro__


def test_retry_says_its_delay_in_ms() -> None:
    """The loop reads a ``Retry``'s delay as ``defer_score`` (ms), as arq's worker does."""
    assert Retry(defer=1.5).defer_score == 1500
    assert Retry().defer_score is None


def test_plain_arq_runs_the_catalogs_functions_under_its_names() -> None:
    """``arq storage_jobs.worker.WorkerSettings`` registers every catalogued function."""
    settings = Settings(queue_name="contract")
    kwargs = worker_settings(settings)
    assert [f.name for f in kwargs["functions"]] == [spec.function_name for spec in CATALOG]
    budget = settings.retry_budget()
    assert {f.max_tries for f in kwargs["functions"]} == {budget.crash_attempts}
    assert (kwargs["job_serializer"], kwargs["job_deserializer"]) == (encode, decode)
    worker = Worker(**{**kwargs, "handle_signals": False})
    assert sorted(worker.functions) == sorted(spec.function_name for spec in CATALOG)
    assert worker.queue_name == "contract"
