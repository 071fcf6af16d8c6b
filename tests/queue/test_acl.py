"""The ACL lines of ops/redis-acl.txt are the generated ones, and their patterns fit the layout."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from arq import constants

from storage_jobs.queue import ACL_ROLES, ARQ_HEALTH_SUFFIX, QueueKeys, acl_user, acl_users

OPS_FILE = Path(__file__).resolve().parents[2] / "ops" / "redis-acl.txt"


def _read_patterns(line: str) -> list[str]:
    """The root's read-only key patterns (``%R~...``) of one line."""
    return re.findall(r"(?<![(\S])%R~(\S+)", line)


def _keys(queue: str, job_id: str) -> list[str]:
    keys = QueueKeys(queue)
    return [
        *keys.lanes,
        keys.wake,
        keys.paused,
        keys.control,
        keys.dead_index,
        keys.dead_data,
        keys.workers,
        keys.worker("w1"),
        keys.finished("complete"),
        keys.history(29_000_000),
        keys.rate("bucket"),
        keys.prefix_jobs,
        queue + ARQ_HEALTH_SUFFIX,
        keys.job(job_id),
        keys.result(job_id),
        keys.in_progress(job_id),
        keys.retry(job_id),
        keys.cancel(job_id),
        keys.parked(job_id),
    ]


def test_ops_file_holds_the_generated_lines() -> None:
    """Regenerate ops/redis-acl.txt's lines with ``acl_users()`` when the layout changes."""
    lines = [x for x in OPS_FILE.read_text().splitlines() if x.startswith("ACL SETUSER")]
    assert lines == acl_users()


def test_arq_health_suffix_is_arqs() -> None:
    assert constants.health_check_key_suffix == ARQ_HEALTH_SUFFIX


@pytest.mark.parametrize("role", ["worker", "operator"])
@pytest.mark.parametrize(
    ("queue", "job_id"), [("storage-jobs", "j1"), ("storage-jobs{t}", "{t}j1")]
)
def test_every_key_of_the_queue_and_its_shards_is_readable(
    role: str, queue: str, job_id: str
) -> None:
    patterns = _read_patterns(acl_user(role))
    for key in _keys(queue, job_id):
        assert any(fnmatchcase(key, p) for p in patterns), key


@pytest.mark.parametrize("role", ACL_ROLES)
def test_no_key_of_another_queue_matches(role: str) -> None:
    line = acl_user(role)
    patterns = re.findall(r"~(\S+?)\)?(?=\s|$)", line)
    queue_keys = [k for k in _keys("other", "j1") if not k.startswith(("arq:", "storage-jobs:st"))]
    for key in queue_keys:
        assert not any(fnmatchcase(key, p) for p in patterns), key


def test_a_queue_name_is_escaped_in_its_patterns() -> None:
    """Glob characters in a queue's name match only themselves."""
    line = acl_user("producer", "q*[1]")
    assert r"~q\*\[1]" in line
    with pytest.raises(ValueError, match="role must be one of"):
        acl_user("admin")
