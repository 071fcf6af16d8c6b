"""The queue's Lua scripts: one ``.lua`` file each under ``queue/lua/``, registered once per client.

Each file opens with a header naming every ``KEYS[i]`` and ``ARGV[i]``; every key a script
touches comes in through ``KEYS`` (none is built in Lua), so a script reads alone and could run
on a Redis Cluster. ``Scripts`` registers them on one connection, lazily: a script object only
holds the text and its SHA1 (``EVALSHA``, loaded on the server at its first ``NoScript``).
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["SCRIPT_NAMES", "Scripts", "script_text"]

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

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def _register(self, name: str) -> AsyncScript:
        return self.redis.register_script(script_text(name))

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
