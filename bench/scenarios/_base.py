"""The scenario interface."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from storage_jobs.devstack import RedisServer

from ..model import Row, Sample
from ..sizes import Sizes
from ..stack import Stack

__all__ = ["Context", "PrivateRedisScenario", "Scenario"]


@dataclass
class Context:
    """What every scenario gets."""

    stack: Stack
    sizes: Sizes
    workdir: Path


class Scenario(ABC):
    """One benchmark: set up once, run ``runs`` times (ours and baseline side by side)."""

    name: str
    rows: tuple[Row, ...]

    def unavailable(self) -> str | None:
        """Why this scenario cannot run here, or ``None``."""
        return None

    async def setup(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Prepares what every run needs (not measured)."""

    @abstractmethod
    async def run_once(self, ctx: Context, run: int) -> dict[str, Sample]:
        """Runs both sides once; returns a sample per row key."""

    async def teardown(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Cleans up after the last run."""


class PrivateRedisScenario(Scenario):
    """A scenario that counts Redis traffic, on a ``redis-server`` of its own for its runs."""

    def __init__(self) -> None:
        self.redis: RedisServer | None = None

    async def setup(self, ctx: Context) -> None:
        """Starts the private server."""
        self.redis = RedisServer(ctx.workdir / f"redis-{self.name}")
        await asyncio.to_thread(self.redis.start)

    async def teardown(self, ctx: Context) -> None:
        """Stops it."""
        if self.redis is not None:
            await asyncio.to_thread(self.redis.stop)
            self.redis = None
