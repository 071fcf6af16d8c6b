"""Redis 7 ACL users for the three roles, built from the key layout (``ops/redis-acl.txt``).

Each role reads what it reads through its root permissions (read commands on ``%R~`` patterns:
no write command can reach a key there) and writes only through selectors, each one a few
commands on the key families they are for: ``(~arq:job:* +set)``. A command is allowed when
the root or one selector allows it together with every key it names, so a multi-key write
(one ``DEL`` of a job's lease, attempt counter and payload) needs one selector holding all of
its families.

Redis checks every command a Lua script runs against the caller's ACL, as if it were sent
directly, and checks the keys ``EVALSHA`` declares against the selector that allows
``EVALSHA`` (read and write, whatever the script does with them). So a script grants nothing:
each role holds, directly, every write its scripts make, and what it can do outside them is
listed with each role in ``ops/redis-acl.txt``.

Patterns cover a queue's unsharded keys and its shards' (a shard's queue name is
``<queue>{<tag>}``); per-job keys (``arq:*:<id>``, ``storage-jobs:state:<id>:...``) name no
queue, so they cover sharded job ids (``{<tag>}<id>``) as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._keys import STATE_PREFIX, QueueKeys
from ._schedules import ScheduleKeys

__all__ = ["ACL_ROLES", "ARQ_HEALTH_SUFFIX", "acl_user", "acl_users"]

ACL_ROLES = ("producer", "worker", "operator")
"""The roles, by the name their user gets: ``storage-jobs-<role>``."""

ARQ_HEALTH_SUFFIX = ":health-check"
"""arq's per-queue health key is the queue's name plus this (the worker writes it too)."""

_GLOB_SPECIAL = "\\*?["
_KEYLESS = ("ping", "info", "script|load", "script|exists", "wait")
_TRANSACTIONS = ("multi", "exec", "discard", "watch", "unwatch")
_READS = (
    "get",
    "mget",
    "exists",
    "getrange",
    "getbit",
    "ttl",
    "pttl",
    "zscore",
    "zrange",
    "zrevrange",
    "zrangebyscore",
    "zcount",
    "zcard",
    "zrandmember",
    "hget",
    "hmget",
    "hgetall",
    "hexists",
    "hlen",
    "smembers",
    "lrange",
    # The completion events stream (``client.events``, ``storage-jobs events``).
    "xread",
    "xrange",
    "xrevrange",
    "xlen",
    "xinfo|stream",
    "xinfo|groups",
)


@dataclass(frozen=True)
class _Grant:
    """One selector: these commands on these key patterns (read and write)."""

    commands: tuple[str, ...]
    keys: tuple[str, ...]

    def text(self) -> str:
        return (
            "(" + " ".join([*(f"~{k}" for k in self.keys), *(f"+{c}" for c in self.commands)]) + ")"
        )


@dataclass(frozen=True)
class _Role:
    """Root permissions (keyless and read commands, reads, channels) and the write selectors."""

    commands: tuple[str, ...]
    reads: tuple[str, ...]
    channels: tuple[str, ...]
    grants: tuple[_Grant, ...]


def _glob(name: str) -> str:
    """A queue name as a glob pattern matching only itself."""
    return "".join(f"\\{c}" if c in _GLOB_SPECIAL else c for c in name)


class _Families:
    """Key patterns of one queue's families, unsharded and sharded (``<queue>{*}``)."""

    def __init__(self, queue: str) -> None:
        name = _glob(queue)
        self.forms = (QueueKeys(name), QueueKeys(name + "{*}"))
        # Schedules live under the queue's home name: the queue's own, or ``<queue>{<queue>}``.
        homes = (ScheduleKeys(name), ScheduleKeys(name + "{*}"))
        self.schedule = tuple(h.schedule("*") for h in homes)
        self.schedules_due = tuple(h.due for h in homes)
        self.schedules_index = tuple(h.index for h in homes)
        self.job = (QueueKeys.job("*"),)
        self.result = (QueueKeys.result("*"),)
        self.lease = (QueueKeys.in_progress("*"),)
        self.attempts = (QueueKeys.retry("*"),)
        self.state = (STATE_PREFIX + "*",)
        self.cancel = (QueueKeys.cancel("*"),)
        self.job_paused = (QueueKeys.job_paused("*"),)
        self.parked = (QueueKeys.parked("*"),)
        self.parked_lane = (QueueKeys.parked_lane("*"),)

    def each(self, pick: str) -> tuple[str, ...]:
        """One family of per-queue keys, e.g. ``wake``, in both forms."""
        return tuple(getattr(k, pick) for k in self.forms)

    @property
    def lanes(self) -> tuple[str, ...]:
        return tuple(lane for k in self.forms for lane in k.lanes)

    @property
    def queue_keys(self) -> tuple[str, ...]:
        """Every per-queue key: the lanes, ``storage-jobs:<queue>:*`` and arq's health key."""
        # The prefix every other per-queue key shares (the dead index is one of them).
        rest = tuple(k.dead_index.removesuffix("dead") + "*" for k in self.forms)
        health = tuple(k.queue + ARQ_HEALTH_SUFFIX for k in self.forms)
        return (*self.lanes, *rest, *health)

    def named(self, method: str, arg: str) -> tuple[str, ...]:
        """A per-queue family with a name part, e.g. ``worker("*")``, in both forms."""
        return tuple(getattr(k, method)(arg) for k in self.forms)

    @property
    def meta(self) -> tuple[str, ...]:
        """The queue's record of its shard count: named after the queue, never a shard."""
        return (self.forms[0].meta,)

    @property
    def job_keys(self) -> tuple[str, ...]:
        return (*self.job, *self.result, *self.lease, *self.attempts, *self.state)


def _producer(f: _Families) -> _Role:
    wake = f.each("wake")
    return _Role(
        commands=(*_KEYLESS, "subscribe", "unsubscribe", *_READS),
        reads=(*f.lanes, *f.each("dead_data"), *f.job_keys, *f.meta),
        channels=f.each("done_channel"),
        grants=(
            # The shard count, recorded by whoever opens the queue first (never overwritten).
            _Grant(("hsetnx",), f.meta),
            # enqueue.lua: EXISTS job, result; SET job PX; ZADD lane; LPUSH, LTRIM wake.
            _Grant(("evalsha",), (*f.lanes, *wake, *f.job, *f.result)),
            _Grant(("set",), f.job),
            _Grant(("zadd",), f.lanes),
            _Grant(("lpush", "ltrim"), wake),
        ),
    )


def _worker(f: _Families) -> _Role:
    wake, control = f.each("wake"), f.each("control")
    workers, worker = f.each("workers"), f.named("worker", "*")
    health = tuple(k.queue + ARQ_HEALTH_SUFFIX for k in f.forms)
    finished, history = f.named("finished", "*"), f.named("history", "*")
    rate, prefix_jobs = f.named("rate", "*"), f.each("prefix_jobs")
    events = f.each("events")
    scripts = (
        *f.lanes,
        *events,
        *f.each("paused"),
        *control,
        *wake,
        *finished,
        *history,
        *rate,
        *workers,
        *f.job_keys,
    )
    return _Role(
        commands=(*_KEYLESS, *_TRANSACTIONS, "time", "publish", *_READS),
        reads=(*f.queue_keys, *f.job_keys),
        channels=f.each("done_channel"),
        grants=(
            # claim, finish, finish_cancelled, renew, cancel (a coordinator cancels its
            # batches), enqueue (fan-out), progress_* and rate_reserve.
            _Grant(("evalsha",), scripts),
            _Grant(("set", "pexpire"), f.lease),
            _Grant(("set", "setex"), f.attempts),
            _Grant(("set",), f.job),
            _Grant(("set", "psetex"), f.result),
            _Grant(("del",), (*f.lease, *f.attempts, *f.job)),
            _Grant(("zadd", "zrem", "zincrby"), f.lanes),
            _Grant(("lpush", "ltrim", "blpop"), wake),
            _Grant(("set",), control),
            _Grant(
                (
                    "set",
                    "setnx",
                    "psetex",
                    "del",
                    "expire",
                    "setbit",
                    "sadd",
                    "srem",
                    "hset",
                    "hsetnx",
                    "hincrby",
                    "hdel",
                    "rpush",
                    "zadd",
                    "zrem",
                ),
                f.state,
            ),
            _Grant(("zadd", "zremrangebyrank"), (*finished, *prefix_jobs)),
            _Grant(("hincrby", "expire"), history),
            # Completion events (finish scripts) and the webhooks' consumer group.
            _Grant(("xadd", "xgroup|create", "xreadgroup", "xack", "xautoclaim", "xclaim"), events),
            _Grant(("zadd", "zrem", "zremrangebyscore"), workers),
            _Grant(("set", "del"), worker),
            _Grant(("psetex",), health),
            _Grant(("set",), rate),
            _Grant(("zadd",), f.each("dead_index")),
            _Grant(("hset",), f.each("dead_data")),
            _Grant(("hsetnx",), f.meta),
            # schedule_tick and schedule_enqueued: a due tick decided, then marked enqueued.
            _Grant(("evalsha",), (*f.schedule, *f.schedules_due)),
            _Grant(("hset", "hincrby", "hdel"), f.schedule),
            _Grant(("zadd",), f.schedules_due),
        ),
    )


def _operator(f: _Families) -> _Role:
    wake, control, paused = f.each("wake"), f.each("control"), f.each("paused")
    dead, dead_data = f.each("dead_index"), f.each("dead_data")
    cancelled, history = f.named("finished", "cancelled"), f.named("history", "*")
    marks = (*f.cancel, *f.job_paused, *f.parked, *f.parked_lane)
    events = f.each("events")
    scripts = (
        *f.lanes,
        *events,
        *wake,
        *control,
        *cancelled,
        *history,
        *f.job,
        *f.result,
        *f.lease,
        *f.attempts,
        *marks,
    )
    return _Role(
        commands=(*_KEYLESS, *_TRANSACTIONS, "subscribe", "unsubscribe", *_READS),
        reads=(*f.queue_keys, *f.job_keys),
        channels=f.each("done_channel"),
        grants=(
            # cancel, pause_job, resume_job and enqueue (enqueue, replay).
            _Grant(("evalsha",), scripts),
            _Grant(("set", "del"), paused),
            _Grant(("lpush", "ltrim"), wake),
            _Grant(("zadd", "zrem"), f.lanes),
            _Grant(("set",), f.job),
            _Grant(("psetex",), f.result),
            _Grant(("del",), (*f.result, *f.attempts, *f.job)),
            _Grant(("set",), control),
            _Grant(("psetex",), f.cancel),
            _Grant(("set", "del"), f.job_paused),
            _Grant(("zrem",), f.parked),
            # resume_job.lua drops both in one DEL.
            _Grant(("del",), (*f.parked, *f.parked_lane)),
            _Grant(("zadd", "zremrangebyrank"), cancelled),
            _Grant(("hincrby", "expire"), history),
            _Grant(("xadd",), events),  # cancel.lua: a queued job's completion event
            _Grant(("zadd", "zrem"), dead),
            _Grant(("hset", "hdel"), dead_data),
            _Grant(("hsetnx",), f.meta),
            # The dashboard (run as the operator): its signing secret, sessions, login throttle.
            _Grant(("set",), (*f.each("dashboard_secret"), *f.named("dashboard_session", "*"))),
            _Grant(("del",), f.named("dashboard_session", "*")),
            _Grant(("incr", "expire"), f.named("login_failures", "*")),
            # schedule_add and schedule_control: schedules written, paused, resumed, removed.
            _Grant(("evalsha",), (*f.schedule, *f.schedules_due, *f.schedules_index)),
            _Grant(("hset", "del"), f.schedule),
            _Grant(("zadd", "zrem"), f.schedules_due),
            _Grant(("sadd", "srem"), f.schedules_index),
        ),
    )


def acl_user(role: str, queue: str = "storage-jobs") -> str:
    """One role's ``ACL SETUSER`` line for a queue (``<role-password>`` left to fill in)."""
    families = _Families(queue)
    build = {"producer": _producer, "worker": _worker, "operator": _operator}
    if role not in build:
        raise ValueError(f"role must be one of {', '.join(ACL_ROLES)}; got {role!r}")
    r = build[role](families)
    parts = [
        f"ACL SETUSER storage-jobs-{role} reset on ><{role}-password>",
        "resetchannels",
        *(f"&{c}" for c in r.channels),
        "-@all",
        *(f"+{c}" for c in r.commands),
        *(f"%R~{k}" for k in r.reads),
        *(g.text() for g in r.grants),
    ]
    return " ".join(parts)


def acl_users(queue: str = "storage-jobs") -> list[str]:
    """The ``ACL SETUSER`` lines of every role, in ``ACL_ROLES`` order."""
    return [acl_user(role, queue) for role in ACL_ROLES]
