"""The scenario interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from ..model import Row, Sample
from ..sizes import Sizes
from ..stack import Stack

__all__ = ["Context", "Scenario"]


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
