"""The wake list: how a writer starts an idle worker at once, and how the worker waits on it.

An idle worker blocks on ``QueueKeys.wake`` (``BLPOP``) instead of polling the lanes. Whoever
makes a job due now (an enqueue, a queue or prefix-job resume, a worker whose ended job frees a
bulk slot) pushes one token; the list is trimmed to one, so a burst of a million enqueues leaves
one token and wakes one worker, which claims a batch and keeps claiming while its claims fill.

A job that becomes due later (deferred, a retry's backoff, a dead worker's lapsed lease) pushes
no token: the worker's empty claim says when the soonest such job is due, and the worker blocks
until then, ``STORAGE_JOBS_IDLE_WAIT_MAX`` (5 s) at most: what a write that pushed no token
waits, such as a plain arq producer's ``enqueue_job``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import RedisCluster

from ..settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = [
    "IDLE_WAIT_MAX_S",
    "MIN_WAIT_S",
    "idle_wait",
    "push_wake",
    "wait_for_any_wake",
    "wait_for_wake",
]

IDLE_WAIT_MAX_S: float = Settings.model_fields["idle_wait_max"].default
"""Seconds an idle worker blocks on the wake list at most before it claims again, by default
(``STORAGE_JOBS_IDLE_WAIT_MAX``)."""

MIN_WAIT_S = 0.002
"""The shortest block: ``BLPOP`` with a timeout of 0 would block forever."""

_ANSWER_GRACE_S = 2.0


def push_wake(pipe: Pipeline, key: str) -> None:
    """Adds the wake token's push to a pipeline or transaction.

    Scripts that make jobs due push it with the same two commands (``lua/*.lua``).
    """
    pipe.lpush(key, "1")
    pipe.ltrim(key, 0, 0)


def idle_wait(
    next_due_ms: int | None,
    now_ms: int,
    poll_delay_s: float,
    most_s: float = IDLE_WAIT_MAX_S,
) -> float:
    """Seconds an idle worker blocks after a claim that took nothing.

    Args:
        next_due_ms: The soonest score over the lanes (None: the lanes are empty).
        now_ms: The claim's time.
        poll_delay_s: The wait when a job looks due but was not taken (held by a worker that
            moves no scores, such as plain arq): the worker's usual poll delay.
        most_s: The longest wait.
    """
    if next_due_ms is None:
        return most_s
    if next_due_ms <= now_ms:
        return min(poll_delay_s, most_s)
    return max(MIN_WAIT_S, min(most_s, (next_due_ms - now_ms) / 1000))


async def wait_for_wake(redis: Redis, key: str, timeout_s: float) -> bool:
    """Blocks until a wake token arrives (True, the token taken) or ``timeout_s`` passes."""
    return await _wait(redis, [key], timeout_s)


async def _wait(redis: Redis | RedisCluster, keys: list[str], timeout_s: float) -> bool:
    # Redis >= 6 takes fractional BLPOP timeouts; redis-py's stubs say int.
    timeout = max(MIN_WAIT_S, timeout_s)
    blpop = cast(Awaitable[Any], redis.blpop(keys, timeout=cast(int, timeout)))
    try:
        # Past the server's own timeout, the answer is lost (a silent network drop): give the
        # connection up rather than block the worker's loop for good.
        got = await asyncio.wait_for(blpop, timeout + _ANSWER_GRACE_S)
    except TimeoutError:
        return False
    return got is not None


async def wait_for_any_wake(redis: Redis | RedisCluster, keys: list[str], timeout_s: float) -> bool:
    """Blocks until a token arrives on any of ``keys`` (True) or ``timeout_s`` passes.

    On one server one ``BLPOP`` takes every list. A cluster refuses keys of different slots in
    one command, so there each list gets its own ``BLPOP`` on a connection of its own; the first
    answer cancels the others, which costs their connections (redis-py drops a connection whose
    command was cancelled, and opens a new one at the next wait).
    """
    if not isinstance(redis, RedisCluster):
        return await _wait(redis, keys, timeout_s)
    waits = [asyncio.ensure_future(_wait(redis, [key], timeout_s)) for key in keys]
    try:
        for next_done in asyncio.as_completed(waits):
            if await next_done:
                return True
        return False
    finally:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
