"""The queue's Lua scripts: one ``.lua`` file each under ``queue/lua/``, registered once per client.

Each file opens with a header naming every ``KEYS[i]`` and ``ARGV[i]``; every key a script
touches comes in through ``KEYS`` (none is built in Lua), so a script reads alone and could run
on a Redis Cluster. ``Scripts`` registers them on one connection, lazily: a script object only
holds the text and its SHA1 (``EVALSHA``, loaded on the server at its first ``NoScript``).

``Scripts.run_many`` pipelines calls. redis-py's cluster pipeline refuses a script object (and
``EVALSHA`` by name), so there each call goes in as a raw ``EVALSHA`` routed by its first key,
the script loaded on every primary first (``SCRIPT LOAD`` goes to all); a call that still finds
no script (a primary restarted, or a replica promoted that never saw the load) answers
``NoScriptError``, which ran nothing, so it is loaded again and only that call re-run.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import RedisCluster
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

ScriptCall = tuple[str, Sequence[Any], Sequence[Any]]
"""One pipelined script call: the script's name, its keys and its arguments."""

__all__ = ["SCRIPT_NAMES", "ScriptCall", "Scripts", "script_text"]

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
)
"""Every script, by its file's name (``lua/<name>.lua``)."""


def script_text(name: str) -> str:
    """The text of one script, read from the installed package."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"no queue script called {name!r}")
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


class Scripts:
    """The queue's scripts registered on one connection (each on first use)."""

    def __init__(self, redis: Redis | RedisCluster) -> None:
        self.redis = redis
        self._loaded: set[str] = set()  # on a cluster: scripts loaded on every primary

    def _register(self, name: str) -> AsyncScript:
        return cast("Redis", self.redis).register_script(script_text(name))

    async def run_many(
        self, calls: Sequence[ScriptCall], *, raise_on_error: bool = True
    ) -> list[Any]:
        """Runs script calls in one pipelined round trip; their answers in order.

        Args:
            calls: ``(name, keys, args)`` per call.
            raise_on_error: Raise the first error; False: errors are answers.
        """
        if not isinstance(self.redis, RedisCluster):
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, keys, args in calls:
                    await getattr(self, name)(keys=keys, args=args, client=pipe)
                answers: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
            return answers
        return await self._run_on_cluster(self.redis, calls, raise_on_error=raise_on_error)

    async def _run_on_cluster(
        self, cluster: RedisCluster, calls: Sequence[ScriptCall], *, raise_on_error: bool
    ) -> list[Any]:
        for name in {name for name, _, _ in calls} - self._loaded:
            await cluster.script_load(script_text(name))
            self._loaded.add(name)
        todo = list(range(len(calls)))
        answers: list[Any] = [None] * len(calls)
        for attempt in range(2):
            async with cluster.pipeline() as pipe:
                for i in todo:
                    name, keys, args = calls[i]
                    sha = getattr(self, name).sha
                    pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args)
                got = await pipe.execute(raise_on_error=False)
            for i, answer in zip(todo, got, strict=True):
                answers[i] = answer
            todo = [i for i in todo if isinstance(answers[i], NoScriptError)]
            if not todo or attempt:
                break
            for name in {calls[i][0] for i in todo}:
                await cluster.script_load(script_text(name))
        if raise_on_error:
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
        return answers

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
