"""The handler map: every catalogued kind has exactly one async handler."""

from __future__ import annotations

import inspect

from storage_jobs.jobs import CATALOG
from storage_jobs.worker import HANDLERS


def test_every_kind_has_a_handler() -> None:
    """The handler map covers the catalog exactly (a kind without a handler never runs)."""
    assert set(HANDLERS) == {spec.kind for spec in CATALOG}


def test_handlers_are_coroutine_functions() -> None:
    """Every handler is an async function (the runtime awaits it)."""
    for spec in CATALOG:
        assert inspect.iscoroutinefunction(HANDLERS[spec.kind]), spec.function_name
