"""Attacks under each role of ops/redis-acl.txt: each refused, and the powers it lists are real.

Every attack here succeeded under the broad lines this file replaced (``+set``/``+del`` on every
``storage-jobs*`` and ``arq:*`` key); each must now answer NOPERM. The lines are loaded into a
private redis-server of this module's own; the admin (the default user) lays out a queue with a
queued job, a result, a lease and a dead letter, unsharded and on a shard, before each attack.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from storage_jobs.devstack import free_port
from storage_jobs.queue import QueueKeys, ScheduleKeys, state_key
from storage_jobs.queue._scripts import script_text
from tests.e2e.test_redis_acl import ROLES, acl_lines
from tests.e2e.test_redis_production import _process, _redis_servers

pytestmark = pytest.mark.integration

BEFORE_25 = Path(__file__).with_name("redis_acl_before_25.txt")
"""ops/redis-acl.txt as it was before issue #25: the broad lines every attack is tried under."""
SHARD = "storage-jobs{s1}"  # a shard of the default queue
OTHER = "other-queue"  # a queue the lines are not for


def _layout(queue: str, job_id: str) -> dict[str, tuple[str, ...]]:
    """The admin's commands that lay out one queue: a queued job, a result, a lease, a letter."""
    keys = QueueKeys(queue)
    return {
        "lane": ("ZADD", keys.queue, "1000", job_id),
        "job": ("SET", keys.job(job_id), "payload"),
        "result": ("SET", keys.result(f"{job_id}-done"), "result"),
        "lease": ("SET", keys.in_progress(f"{job_id}-running"), "worker-1"),
        "dead": ("ZADD", keys.dead_index, "1", f"{job_id}-dead"),
        "dead_data": ("HSET", keys.dead_data, f"{job_id}-dead", "{}"),
    }


def _redis7_server() -> str:
    """A redis-server 7 or later (selectors): on PATH or at a well-known system path.

    Raises:
        AssertionError: If there is none (the test fails; it never skips).
    """
    for server in _redis_servers():
        done = subprocess.run(
            [server, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        found = re.search(r"v=(\d+)\.", done.stdout)
        if found and int(found.group(1)) >= 7:
            return server
    raise AssertionError("no redis-server 7 or later: install the system's Redis")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private redis-server 7 with the users of ops/redis-acl.txt (passwords ``<role>-pw``).

    Yields its port; the default user is the admin.
    """
    workdir = tmp_path_factory.mktemp("acl-attacks")
    port = free_port()
    args = [_redis7_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    admin = redis.Redis(port=port)
    with _process(args, admin.ping, "redis-server 7"):
        for line in acl_lines():
            for role in ROLES:
                line = line.replace(f"<{role}-password>", f"{role}-pw")
            admin.execute_command(*shlex.split(line))  # type: ignore[no-untyped-call]
        for line in BEFORE_25.read_text().splitlines():
            if line.startswith("ACL SETUSER"):
                for role in ROLES:
                    line = line.replace(f"<{role}-password>", f"{role}-pw")
                    line = line.replace(f"storage-jobs-{role} ", f"old-{role} ")
                admin.execute_command(*shlex.split(line))  # type: ignore[no-untyped-call]
        yield port
    admin.close()


@pytest.fixture
def admin(server: int) -> Iterator[redis.Redis]:
    """The admin, with the layout written afresh for this test."""
    client = redis.Redis(port=server)
    client.flushdb()
    for queue, job_id in (("storage-jobs", "victim"), (SHARD, "{s1}victim"), (OTHER, "victim")):
        for command in _layout(queue, job_id).values():
            client.execute_command(*command)  # type: ignore[no-untyped-call]
    yield client
    client.close()


def _snapshot(admin: redis.Redis) -> dict[bytes, bytes]:
    """Every key and its DUMP."""
    keys: list[bytes] = admin.keys("*")  # type: ignore[assignment]
    return {key: admin.dump(key) for key in keys}  # type: ignore[misc]


def _as(server: int, role: str) -> redis.Redis:
    return redis.Redis(port=server, username=f"storage-jobs-{role}", password=f"{role}-pw")


def _schedule(keys: QueueKeys) -> str:
    """A schedule's hash of the queue (its shard's name stands in for a tagged queue's home)."""
    return ScheduleKeys(keys.queue).schedule("x")


def _due(keys: QueueKeys) -> str:
    return ScheduleKeys(keys.queue).due


@dataclass(frozen=True)
class Attack:
    """One attack: what it does, its command on a queue and job id, and who could before.

    ``before`` names the roles the broad lines (``redis_acl_before_25.txt``) let do it on the
    unsharded queue; ``lane`` marks an attack on a lane, which those lines never covered on a
    shard (they named the queue's sorted set exactly).
    """

    what: str
    command: Callable[[QueueKeys, str], tuple[str, ...]]
    before: str = ""
    lane: bool = False


P, W, OP = "producer", "worker", "operator"
ATTACKS: dict[str, list[Attack]] = {
    "destroy": [
        Attack(
            "replace the queue's sorted set",
            lambda k, j: ("SET", k.queue, "x", "PX", "1"),
            before=f"{P} {W} {OP}",
            lane=True,
        ),
        Attack(
            "delete the queue's sorted set",
            lambda k, j: ("DEL", k.queue),
            before=f"{W} {OP}",
            lane=True,
        ),
        Attack("expire the queue", lambda k, j: ("PEXPIRE", k.queue, "1"), before=W, lane=True),
        Attack("delete a lane", lambda k, j: ("UNLINK", k.lane("bulk")), lane=True),
        Attack("rename the queue away", lambda k, j: ("RENAME", k.queue, "gone"), lane=True),
        Attack("flush the database", lambda k, j: ("FLUSHDB",)),
        Attack("flush everything", lambda k, j: ("FLUSHALL",)),
        Attack("list every key", lambda k, j: ("KEYS", "*")),
        Attack("run a script", lambda k, j: ("EVAL", "return 1", "0")),
    ],
    P: [
        Attack("take a queued job off the queue", lambda k, j: ("ZREM", k.queue, j), lane=True),
        Attack("pause the queue", lambda k, j: ("SET", k.paused, "1"), before=P),
        Attack("set the control flag", lambda k, j: ("SET", k.control, "1"), before=P),
        Attack(
            "cancel a job (its marker)", lambda k, j: ("PSETEX", k.cancel(j), "9000", "1"), before=P
        ),
        Attack("forge a result", lambda k, j: ("SET", k.result(f"{j}-done"), "forged"), before=P),
        Attack(
            "forge a result with a TTL", lambda k, j: ("PSETEX", k.result(j), "9000", "x"), before=P
        ),
        Attack(
            "fake a lease", lambda k, j: ("SET", k.in_progress(j), "me", "PX", "9000"), before=P
        ),
        Attack("fake a worker's heartbeat", lambda k, j: ("ZADD", k.workers, "1", "w"), before=P),
        Attack("delete a result (replay)", lambda k, j: ("DEL", k.result(f"{j}-done"))),
        Attack("drop a running job's lease", lambda k, j: ("DEL", k.in_progress(f"{j}-running"))),
        Attack("delete a queued payload", lambda k, j: ("DEL", k.job(j))),
        Attack("expire a queued payload", lambda k, j: ("PEXPIRE", k.job(j), "1")),
        Attack("drop a dead letter", lambda k, j: ("HDEL", k.dead_data, f"{j}-dead")),
        Attack("write a job's progress", lambda k, j: ("HSET", state_key(j, "progress"), "d", "9")),
        Attack("scan every key", lambda k, j: ("SCAN", "0")),
        Attack("flush the scripts", lambda k, j: ("SCRIPT", "FLUSH")),
        Attack("write a schedule", lambda k, j: ("HSET", _schedule(k), "payload", "{}")),
        Attack("make a schedule due", lambda k, j: ("ZADD", _due(k), "1", "x"), before=P),
    ],
    W: [
        Attack("remove a schedule", lambda k, j: ("DEL", _schedule(k)), before=W),
        Attack(
            "list a new schedule", lambda k, j: ("SADD", ScheduleKeys(k.queue).index, "x"), before=W
        ),
        Attack("pause the queue", lambda k, j: ("SET", k.paused, "1"), before=W),
        Attack("resume a queue an operator paused", lambda k, j: ("DEL", k.paused), before=W),
        Attack("drop a dead letter", lambda k, j: ("HDEL", k.dead_data, f"{j}-dead"), before=W),
        Attack(
            "drop a dead letter's index entry",
            lambda k, j: ("ZREM", k.dead_index, f"{j}-dead"),
            before=W,
        ),
        Attack("delete a result (replay)", lambda k, j: ("DEL", k.result(f"{j}-done")), before=W),
    ],
    OP: [
        Attack("forge a result", lambda k, j: ("SET", k.result(f"{j}-done"), "forged"), before=OP),
        Attack(
            "fake a lease", lambda k, j: ("SET", k.in_progress(j), "me", "PX", "9000"), before=OP
        ),
        Attack(
            "drop a running job's lease",
            lambda k, j: ("DEL", k.in_progress(f"{j}-running")),
            before=OP,
        ),
        Attack("fake a worker's heartbeat", lambda k, j: ("ZADD", k.workers, "1", "w"), before=OP),
        Attack(
            "extend a running job's lease",
            lambda k, j: ("PEXPIRE", k.in_progress(f"{j}-running"), "1"),
        ),
        Attack("write a job's progress", lambda k, j: ("HSET", state_key(j, "progress"), "d", "9")),
    ],
}
"""Attacks on the role's own queue, by role ("destroy": every role)."""

OTHER_QUEUE = [
    Attack("enqueue on another queue", lambda k, j: ("ZADD", k.queue, "1", "x")),
    Attack("pause another queue", lambda k, j: ("SET", k.paused, "1"), before=f"{P} {W} {OP}"),
    Attack(
        "wake another queue's workers", lambda k, j: ("LPUSH", k.wake, "1"), before=f"{P} {W} {OP}"
    ),
    Attack(
        "write another queue's dead letters",
        lambda k, j: ("HSET", k.dead_data, "x", "{}"),
        before=W,
    ),
    Attack(
        "write another queue's history", lambda k, j: ("HINCRBY", k.history(1), "c", "1"), before=W
    ),
]
"""Writes to a queue the lines are not for: every role may do each on its own queue."""


def _cases() -> list[tuple[str, str, tuple[str, ...], bool]]:
    """(role, case id, command, whether the lines before #25 let the role do it)."""
    cases = []
    for queue, job_id in (("storage-jobs", "victim"), (SHARD, "{s1}victim")):
        for group, attacks in ATTACKS.items():
            for role in ROLES if group == "destroy" else (group,):
                for a in attacks:
                    before = role in a.before.split() and not (a.lane and queue == SHARD)
                    command = a.command(QueueKeys(queue), job_id)
                    cases.append((role, f"{role}-{queue}-{a.what}", command, before))
    for role in ROLES:
        for a in OTHER_QUEUE:
            command = a.command(QueueKeys(OTHER), "victim")
            cases.append((role, f"{role}-{a.what}", command, role in a.before.split()))
    return cases


CASES = [pytest.param(role, command, id=case) for role, case, command, _ in _cases()]
BEFORE = [pytest.param(role, command, before, id=case) for role, case, command, before in _cases()]


@pytest.mark.parametrize(("role", "command"), CASES)
def test_attack_is_refused(
    server: int, admin: redis.Redis, role: str, command: tuple[str, ...]
) -> None:
    """The role's connection gets NOPERM and nothing changes."""
    before = _snapshot(admin)
    client = _as(server, role)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*command)  # type: ignore[no-untyped-call]
    client.close()
    assert _snapshot(admin) == before


@pytest.mark.parametrize(("role", "command", "allowed"), BEFORE)
def test_the_lines_before_allowed_what_the_table_says(
    server: int, admin: redis.Redis, role: str, command: tuple[str, ...], allowed: bool
) -> None:
    """Under the lines #25 replaced, each attack marked ``before`` worked and no other did.

    This keeps the table honest: an attack the old lines refused too proves nothing about the
    new ones, and is marked so.
    """
    client = redis.Redis(port=server, username=f"old-{role}", password=f"{role}-pw")
    if allowed:
        client.execute_command(*command)  # type: ignore[no-untyped-call]
    else:
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)  # type: ignore[no-untyped-call]
    client.close()


@pytest.mark.parametrize(
    ("role", "script", "keys"),
    [
        # cancel.lua as the producer: its keys include a lease (EVALSHA itself is refused).
        ("producer", "cancel", ["arq:result:victim", "arq:in-progress:victim", "arq:job:victim"]),
        # the producer's own script, declaring only keys its EVALSHA may name: the SET inside
        # is refused, so a script writes nothing its caller could not write directly.
        ("producer", "forge", ["arq:result:victim-done"]),
        ("operator", "forge", ["arq:result:victim-done"]),
    ],
)
def test_scripts_grant_nothing(
    server: int, admin: redis.Redis, role: str, script: str, keys: list[str]
) -> None:
    """A role's script runs each command under the role's own ACL."""
    text = (
        script_text(script) if script != "forge" else "return redis.call('set', KEYS[1], 'forged')"
    )
    client = _as(server, role)
    sha = client.script_load(text)
    args = ("victim", "x", "1", "1", "1", "1", "1", "x")
    with pytest.raises(redis.exceptions.ResponseError, match=r"permission|can't access"):
        client.execute_command("EVALSHA", sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
    client.close()
    assert admin.get("arq:result:victim-done") == b"result"
    assert admin.exists("arq:result:victim") == 0


@pytest.mark.parametrize(
    ("role", "what", "command"),
    [
        ("producer", "overwrite a queued payload", ("SET", "arq:job:victim", "other", "PX", "1")),
        ("producer", "defer a queued job", ("ZADD", "storage-jobs", "1e15", "victim")),
        ("producer", "read any payload", ("GET", "arq:job:{s1}victim")),
        ("worker", "write a result", ("SET", "arq:result:victim", "forged")),
        ("worker", "cancel a job", ("PSETEX", "storage-jobs:state:victim:cancel", "9", "1")),
        ("operator", "write a result with a TTL", ("PSETEX", "arq:result:victim", "9", "x")),
        ("operator", "take a job off the queue", ("ZREM", "storage-jobs{s1}", "{s1}victim")),
        (
            "worker",
            "move a schedule's next tick and counters on",
            ("HINCRBY", "storage-jobs:storage-jobs{storage-jobs}:schedule:x", "runs", "1"),
        ),
        (
            "operator",
            "add, change, pause, resume and remove schedules",
            ("DEL", "storage-jobs:storage-jobs:schedule:x"),
        ),
    ],
)
def test_listed_remaining_powers_are_real(
    server: int, admin: redis.Redis, role: str, what: str, command: tuple[str, ...]
) -> None:
    """What ops/redis-acl.txt lists a role can still do, it can: the list is not hopeful."""
    client = _as(server, role)
    client.execute_command(*command)  # type: ignore[no-untyped-call]
    client.close()
    text = Path(__file__).resolve().parents[2].joinpath("ops", "redis-acl.txt").read_text()
    listed = " ".join(line.strip("# ") for line in text.splitlines())
    assert what in listed
