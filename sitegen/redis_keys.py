"""The Redis keys reference page, made from ``QueueKeys`` and the queue package's source."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

from storage_jobs.queue import ARQ_HEALTH_SUFFIX, LANES, STATE_PREFIX, QueueKeys
from storage_jobs.queue._keys import abort_jobs_ss

__all__ = ["redis_keys_page", "state_names"]

QUEUE_PACKAGE = Path(inspect.getfile(QueueKeys)).parent

INTRO = f"""\
# Redis keys

Every key storage-jobs reads or writes, generated from `storage_jobs.queue.QueueKeys` (names and
docstrings) and from the `state_key(...)` calls in `storage_jobs/queue/` when the site is built.
`<queue>` is `STORAGE_JOBS_QUEUE_NAME`; on a sharded queue each shard's keys use `<queue>{{<tag>}}`
instead (one hash tag per shard, so each shard's keys share a cluster slot), and sharded job ids
are `{{<tag>}}<id>`. Who writes and who reads each key: [Architecture](../architecture.md); the
key patterns each role may touch: [Redis roles](../redis.md#acls-roles-by-command-and-key).

## Per queue

| key | what |
|---|---|
| `<queue>{ARQ_HEALTH_SUFFIX}` | arq's health-check key (the worker writes it for plain-arq tools) |
| `{abort_jobs_ss}` | arq's sorted set of aborted job ids (arq writes it; the worker tidies it). |
"""

STATE = """
## Per job

| key | what |
|---|---|
"""

JOB_STATE = """
## A job's state (`{prefix}<job>:...`)

Prefix jobs' progress, report lines and batch bitmaps, a delete's rounds, cancel and pause
markers. Each expires (prefix jobs' state after 14 days, a finished delete's with its result).

| key | made in |
|---|---|
"""


def _summary(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _keys() -> Iterator[tuple[str, str, bool]]:
    """(key, summary, per job) of every public key member of ``QueueKeys``."""
    keys = QueueKeys("<queue>")
    for name, member in inspect.getmembers(QueueKeys):
        if name.startswith("_") or name in {"queue", "lanes"}:
            continue
        if isinstance(member, property):
            yield getattr(keys, name), _summary(member.__doc__), False
            continue
        if not callable(member):
            continue
        params = list(inspect.signature(getattr(keys, name)).parameters)
        if params == ["priority"]:
            for lane in LANES:
                yield keys.lane(lane), f"The `{lane}` lane. " + _summary(member.__doc__), False
            continue
        per_job = params == ["job_id"]
        args = ["<job>" if p == "job_id" else f"<{p}>" for p in params]
        yield getattr(keys, name)(*args), _summary(member.__doc__), per_job


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else f"<{ast.unparse(part.value)}>"
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        )
    return None


def state_names() -> dict[str, str]:
    """Name after ``<job>:`` -> module, for every ``state_key(job, name)`` call in ``queue/``."""
    found: dict[str, str] = {}
    for path in sorted(QUEUE_PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "state_key"
                and len(node.args) == 2
                and (name := _text(node.args[1])) is not None
            ):
                found.setdefault(name, f"queue/{path.name}")
    return found


def _row(key: str, what: str) -> str:
    return f"| `{key}` | {what.replace('|', chr(92) + '|')} |"


def redis_keys_page() -> str:
    """The page: per-queue keys, per-job keys, then every named piece of a job's state."""
    keys = sorted(_keys())
    queue_rows = [_row(k, what) for k, what, per_job in keys if not per_job]
    job_rows = [_row(k, what) for k, what, per_job in keys if per_job]
    state_rows = [
        _row(f"{STATE_PREFIX}<job>:{name}", f"`{module}`")
        for name, module in sorted(state_names().items())
        if module != "queue/_keys.py"  # listed above, with what each is
    ]
    return (
        INTRO
        + "\n".join(queue_rows)
        + "\n"
        + STATE
        + "\n".join(job_rows)
        + "\n"
        + JOB_STATE.format(prefix=STATE_PREFIX)
        + "\n".join(state_rows)
        + "\n"
    )
