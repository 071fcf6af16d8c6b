"""docs/architecture.md names every queue script and every public ``Queue`` method."""

from __future__ import annotations

import inspect
from pathlib import Path

from storage_jobs.queue import Queue
from storage_jobs.queue._scripts import SCRIPT_NAMES

DOC = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_every_script_has_a_row_with_its_keys() -> None:
    rows = {line.split("|")[1].strip() for line in DOC.splitlines() if line.startswith("| `")}
    missing = [name for name in SCRIPT_NAMES if f"`{name}`" not in rows]
    assert not missing, f"scripts missing from the scripts table: {missing}"


def test_every_public_queue_method_is_named() -> None:
    public = [name for name, _ in inspect.getmembers(Queue) if not name.startswith("_")]
    public = [name for name in public if name not in {"keys", "redis", "name", "scripts"}]
    missing = [name for name in public if f"`{name}`" not in DOC]
    assert not missing, f"Queue methods missing from docs/architecture.md: {missing}"
