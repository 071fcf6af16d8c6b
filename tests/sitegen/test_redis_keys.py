"""The generated Redis keys page lists every key ``QueueKeys`` names and every job state."""

from __future__ import annotations

import inspect

from sitegen.redis_keys import redis_keys_page, state_names

from storage_jobs.queue import QueueKeys


def test_every_queue_key_member_is_on_the_page() -> None:
    page = redis_keys_page()
    keys = QueueKeys("<queue>")
    for name, member in inspect.getmembers(QueueKeys):
        if name.startswith("_") or name in {"queue", "lanes"}:
            continue
        if isinstance(member, property):
            assert f"| `{getattr(keys, name)}` |" in page, name
        elif callable(member):
            summary = " ".join((member.__doc__ or "").split("\n\n")[0].split())
            assert summary and summary in page, name


def test_state_keys_are_found_in_the_queue_package() -> None:
    names = state_names()
    assert {"progress", "records", "batches", "steps", "cancel"} <= set(names)
    assert names["progress"] == "queue/_progress.py"
    page = redis_keys_page()
    assert "| `storage-jobs:state:<job>:batch:<batch>:done` | `queue/_progress.py` |" in page
