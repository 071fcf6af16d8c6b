"""Waits the worker cuts short: the first of several to end wins, the others are cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

__all__ = ["first_of"]


async def first_of(*waits: Awaitable[Any]) -> None:
    """Returns when the first of ``waits`` ends (raising its error); cancels the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
                task.add_done_callback(_retrieve)  # e.g. a BLPOP cut short: its error is moot
    for task in done:
        task.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
