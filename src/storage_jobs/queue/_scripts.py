"""The queue's Lua scripts: one ``.lua`` file each under ``queue/lua/``, registered once per client.

Each file opens with a header naming every ``KEYS[i]`` and ``ARGV[i]``; every key a script
touches comes in through ``KEYS`` (none is built in Lua), so a script reads alone and could run
on a Redis Cluster. ``Scripts`` registers them on one connection, lazily: a script object only
holds the text and its SHA1 (``EVALSHA``, loaded on the server at its first ``NoScript``).

``Scripts.run_many`` pipelines calls as raw ``EVALSHA`` commands. redis-py's pipeline would send
a ``SCRIPT EXISTS`` round trip before every pipeline holding a script object, and its cluster
pipeline refuses script objects (and ``EVALSHA`` by name). A call that finds no script (a fresh
or restarted server, a replica promoted that never saw the load) answers ``NoScriptError``,
which ran nothing: the script is loaded (``SCRIPT LOAD``; on a cluster it goes to every primary,
and there scripts are loaded before the first call too) and only those calls run again.

**Replica waits** (``STORAGE_JOBS_REDIS_WAIT_REPLICAS``): a durable call (an enqueue, a finish)
is followed by ``WAIT`` in the same pipeline. ``WAIT`` counts the writes of its own connection:
one server's pipeline is one connection; a cluster pipeline sends each node's commands on one
connection of that node, in order, so one ``WAIT`` goes to each node the calls went to
(``target_nodes``). A call redirected on the way (``MOVED``/``ASK``: a slot moved, a failover)
is sent again on another connection, which that node's ``WAIT`` does not see: the slot map
changed under the call, so its wait counts as unacknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import RedisCluster
from redis.exceptions import NoScriptError, RedisError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

ScriptCall = tuple[str, Sequence[Any], Sequence[Any]]
"""One pipelined script call: the script's name, its keys and its arguments."""

__all__ = [
    "SCRIPT_NAMES",
    "ReplicaWait",
    "ReplicaWaitError",
    "ScriptCall",
    "Scripts",
    "script_text",
]

SCRIPT_NAMES = (
    "cancel",
    "claim",
    "enqueue",
    "finish",
    "finish_cancelled",
    "pause_job",
    "progress_finish_batch",
    "progress_record_key",
    "progress_record_step",
    "rate_reserve",
    "renew",
    "resume_job",
    "schedule_add",
    "schedule_control",
    "schedule_enqueued",
    "schedule_tick",
)
"""Every script, by its file's name (``lua/<name>.lua``)."""


def script_text(name: str) -> str:
    """The text of one script, read from the installed package."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"no queue script called {name!r}")
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


@dataclass(frozen=True)
class ReplicaWait:
    """``WAIT`` after durable writes: for ``replicas`` replicas, ``timeout_ms`` at most."""

    replicas: int
    timeout_ms: int


class ReplicaWaitError(RedisError):
    """Durable writes ran on the primary, but fewer replicas than asked acknowledged them.

    Attributes:
        acknowledged: The fewest replicas any ``WAIT`` of the calls reported.
        answers: The calls' answers, in order (the writes happened).
    """

    def __init__(self, acknowledged: int, wait: ReplicaWait, answers: list[Any]) -> None:
        super().__init__(
            f"WAIT: {acknowledged} of {wait.replicas} replica(s) acknowledged the writes within "
            f"{wait.timeout_ms} ms"
        )
        self.acknowledged = acknowledged
        self.answers = answers


class Scripts:
    """The queue's scripts registered on one connection (each on first use).

    Attributes:
        redis: The connection.
        wait: The replica wait after durable calls; None: none.
    """

    def __init__(self, redis: Redis | RedisCluster, *, wait: ReplicaWait | None = None) -> None:
        self.redis = redis
        self.wait = wait
        self._loaded: set[str] = set()  # on a cluster: scripts loaded on every primary

    def _register(self, name: str) -> AsyncScript:
        return cast("Redis", self.redis).register_script(script_text(name))

    async def run_many(
        self, calls: Sequence[ScriptCall], *, raise_on_error: bool = True, durable: bool = False
    ) -> list[Any]:
        """Runs script calls in one pipelined round trip; their answers in order.

        Args:
            calls: ``(name, keys, args)`` per call (each call's keys in one slot).
            raise_on_error: Raise the first error; False: errors are answers.
            durable: Wait for the replicas ``wait`` asks for, in the same round trip.

        Raises:
            ReplicaWaitError: A durable call's writes, made, were not acknowledged in time.
        """
        cluster = isinstance(self.redis, RedisCluster)
        if cluster:  # a cluster pipeline's NOSCRIPT answers are not trusted to come back whole
            for name in {name for name, _, _ in calls} - self._loaded:
                await self.redis.script_load(script_text(name))
                self._loaded.add(name)
        todo = list(range(len(calls)))
        answers: list[Any] = [None] * len(calls)
        wait = self.wait if durable else None
        acknowledged: list[int] = []
        for attempt in range(2):
            pipe = self.redis.pipeline() if cluster else self.redis.pipeline(transaction=False)
            async with pipe:
                for i in todo:
                    name, keys, args = calls[i]
                    sha = getattr(self, name).sha
                    pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
                nodes = self._add_waits(pipe, [calls[i][1] for i in todo], wait)
                got = await pipe.execute(raise_on_error=False)
            got, waits = got[: len(todo)], got[len(todo) :]
            acknowledged += [w if isinstance(w, int) else 0 for w in waits]
            if nodes is not None and nodes != self._nodes([calls[i][1] for i in todo]):
                acknowledged.append(0)  # redirected: a wait may not have seen the write
            for i, answer in zip(todo, got, strict=True):
                answers[i] = answer
            todo = [i for i in todo if isinstance(answers[i], NoScriptError)]
            if not todo or attempt:
                break
            for name in {calls[i][0] for i in todo}:  # NOSCRIPT ran nothing: load, run again
                await self.redis.script_load(script_text(name))
        if raise_on_error:
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
        if wait is not None and min(acknowledged, default=0) < wait.replicas:
            raise ReplicaWaitError(min(acknowledged, default=0), wait, answers)
        return answers

    def _nodes(self, keys: Sequence[Sequence[Any]]) -> list[str]:
        """The cluster node each call's first key is served by now."""
        cluster = cast(RedisCluster, self.redis)
        return [getattr(cluster.get_node_from_key(k[0]), "name", "") for k in keys]

    def _add_waits(
        self, pipe: Any, keys: Sequence[Sequence[Any]], wait: ReplicaWait | None
    ) -> list[str] | None:
        """Queues the ``WAIT`` after the calls; on a cluster one per node, and the nodes."""
        if wait is None or not keys:
            return None
        if not isinstance(self.redis, RedisCluster):
            pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms)
            return None
        nodes = self._nodes(keys)
        for name in dict.fromkeys(nodes):
            node = self.redis.get_node(node_name=name)
            pipe.execute_command("WAIT", wait.replicas, wait.timeout_ms, target_nodes=node)
        return nodes

    @cached_property
    def cancel(self) -> AsyncScript:
        """``lua/cancel.lua``."""
        return self._register("cancel")

    @cached_property
    def claim(self) -> AsyncScript:
        """``lua/claim.lua``."""
        return self._register("claim")

    @cached_property
    def enqueue(self) -> AsyncScript:
        """``lua/enqueue.lua``."""
        return self._register("enqueue")

    @cached_property
    def finish(self) -> AsyncScript:
        """``lua/finish.lua``."""
        return self._register("finish")

    @cached_property
    def finish_cancelled(self) -> AsyncScript:
        """``lua/finish_cancelled.lua``."""
        return self._register("finish_cancelled")

    @cached_property
    def pause_job(self) -> AsyncScript:
        """``lua/pause_job.lua``."""
        return self._register("pause_job")

    @cached_property
    def progress_finish_batch(self) -> AsyncScript:
        """``lua/progress_finish_batch.lua``."""
        return self._register("progress_finish_batch")

    @cached_property
    def progress_record_key(self) -> AsyncScript:
        """``lua/progress_record_key.lua``."""
        return self._register("progress_record_key")

    @cached_property
    def progress_record_step(self) -> AsyncScript:
        """``lua/progress_record_step.lua``."""
        return self._register("progress_record_step")

    @cached_property
    def rate_reserve(self) -> AsyncScript:
        """``lua/rate_reserve.lua``."""
        return self._register("rate_reserve")

    @cached_property
    def renew(self) -> AsyncScript:
        """``lua/renew.lua``."""
        return self._register("renew")

    @cached_property
    def resume_job(self) -> AsyncScript:
        """``lua/resume_job.lua``."""
        return self._register("resume_job")

    @cached_property
    def schedule_add(self) -> AsyncScript:
        """``lua/schedule_add.lua``."""
        return self._register("schedule_add")

    @cached_property
    def schedule_control(self) -> AsyncScript:
        """``lua/schedule_control.lua``."""
        return self._register("schedule_control")

    @cached_property
    def schedule_enqueued(self) -> AsyncScript:
        """``lua/schedule_enqueued.lua``."""
        return self._register("schedule_enqueued")

    @cached_property
    def schedule_tick(self) -> AsyncScript:
        """``lua/schedule_tick.lua``."""
        return self._register("schedule_tick")
