"""The worker's schedule check: how long it waits, what it logs, and that failures do not end it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from storage_jobs.queue import Tick, TickRound
from storage_jobs.worker._ticks import TICK_CHECK_S, Ticker


class FakeQueue:
    """Answers each ``fire_schedules`` with the next of ``answers`` (an exception is raised)."""

    def __init__(self, *answers: TickRound | Exception) -> None:
        self.answers = list(answers)

    async def fire_schedules(self, now_ms: int) -> TickRound:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ticker(*answers: TickRound | Exception) -> tuple[Ticker, list[tuple[Any, ...]]]:
    logged: list[tuple[Any, ...]] = []
    queue = FakeQueue(*answers)
    return Ticker(lambda: queue, lambda *a, **k: logged.append((*a, k))), logged  # type: ignore[arg-type,return-value]


async def test_it_waits_a_check_interval_or_until_the_soonest_tick() -> None:
    soon = int(time.time() * 1000) + 300
    check, _ = ticker(TickRound(), TickRound(soonest_ms=soon), TickRound(more=True))
    assert TICK_CHECK_S <= await check.check() < TICK_CHECK_S + 0.05
    assert 0.0 < await check.check() <= 0.35
    assert await check.check() == 0.0  # more due than one check read: at once


async def test_it_logs_each_tick_and_a_failure_once_per_streak() -> None:
    down = RedisConnectionError("Error 111 connecting")
    ran = TickRound([Tick("nightly", "run", 1000, "schedule:q:nightly:1000", 2, True)])
    check, logged = ticker(down, down, ran, down)
    for _ in range(4):
        assert await check.check() <= TICK_CHECK_S + 0.05  # it carries on
    events = [(level, event) for level, event, _ in logged]
    assert events == [
        ("warning", "schedule.check_failed"),
        ("info", "schedule.run"),
        ("warning", "schedule.check_failed"),
    ]
    assert logged[1][2] == {
        "schedule": "nightly",
        "tick_ms": 1000,
        "job_id": "schedule:q:nightly:1000",
        "enqueued": True,
        "missed": 2,
    }
    assert "Error 111" in logged[0][2]["error"]


@pytest.mark.parametrize("outcome", ["recovered", "unreadable", "failed"])
async def test_a_recovered_or_unreadable_tick_is_a_warning(outcome: Any) -> None:
    check, logged = ticker(TickRound([Tick("n", outcome, 5)]))
    await check.check()
    assert logged[0][:2] == ("warning", f"schedule.{outcome}")
