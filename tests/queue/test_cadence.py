"""A schedule's ticks (every and cron, in time zones) and the checks of what a user gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage_jobs.queue import Cadence, check_schedule_name, tick_job_id


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of every"),
        ({"every": 60, "cron": "* * * * *"}, "exactly one of every"),
        ({"every": 0}, "> 0"),
        ({"every": -5}, "> 0"),
        ({"every": timedelta(0)}, "> 0"),
        ({"every": 0.5}, "at least 1 s"),
        ({"every": True}, "seconds"),
        ({"every": "60"}, "seconds"),
        ({"cron": "not a cron"}, "croniter"),
        ({"cron": "61 * * * *"}, "croniter"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"cron": "0 3 * * *", "timezone": "../etc"}, "unknown time zone"),
        ({"every": 60, "timezone": "Europe/Paris"}, "cron schedules only"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cadence.build(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "-x", "a b", "a{b}", "x" * 101, "é", None, "a:b"])
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="schedule's name"):
        check_schedule_name(name)


def test_a_good_name_and_its_tick_ids() -> None:
    assert check_schedule_name("nightly-sync_2.b") == "nightly-sync_2.b"
    tick_id = tick_job_id("jobs", "nightly", 1_700_000_000_000)
    assert tick_id == "schedule:jobs:nightly:1700000000000"


def test_every_ticks_from_its_anchor_and_catches_up_once() -> None:
    cadence = Cadence.build(every=timedelta(seconds=10), anchor_ms=1_000)
    assert cadence.spec == "every 10s"
    assert cadence.first_after(1_000) == 11_000
    assert cadence.first_after(10_999) == 11_000
    assert cadence.first_after(11_000) == 21_000
    assert cadence.first_after(0) == 11_000  # never before the first period
    assert cadence.latest_due(11_000, 11_000) == (11_000, 0)
    # Five ticks fell while no worker looked: the latest runs, standing for the four before.
    assert cadence.latest_due(11_000, 55_000) == (51_000, 4)
    with pytest.raises(ValueError, match="not due"):
        cadence.latest_due(11_000, 10_000)


def test_cron_reads_its_time_zone() -> None:
    paris = Cadence.build(cron="0  3 * * *", timezone="Europe/Paris")
    assert paris.spec == "cron 0 3 * * * (Europe/Paris)"
    # 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC in summer.
    assert paris.first_after(ms("2026-12-06T12:00:00+00:00")) == ms("2026-12-07T02:00:00+00:00")
    assert paris.first_after(ms("2026-07-06T12:00:00+00:00")) == ms("2026-07-07T01:00:00+00:00")
    utc = Cadence.build(cron="0 3 * * *")
    assert utc.first_after(ms("2026-12-06T03:00:00+00:00")) == ms("2026-12-07T03:00:00+00:00")


def test_daylight_saving_time_is_croniters() -> None:
    """02:30 does not exist in Paris on 2026-03-29: croniter runs it at 03:00, once."""
    cadence = Cadence.build(cron="30 2 * * *", timezone="Europe/Paris")
    start = ms("2026-03-28T12:00:00+00:00")
    first = cadence.first_after(start)
    second = cadence.first_after(first)
    as_utc = [datetime.fromtimestamp(t / 1000, tz=UTC).isoformat() for t in (first, second)]
    assert as_utc == ["2026-03-29T01:00:00+00:00", "2026-03-30T00:30:00+00:00"]


def test_cron_catches_up_once_counting_what_it_missed() -> None:
    hourly = Cadence.build(cron="0 * * * *")
    due = ms("2026-12-06T10:00:00+00:00")
    tick, missed = hourly.latest_due(due, ms("2026-12-06T15:30:00+00:00"))
    assert (tick, missed) == (ms("2026-12-06T15:00:00+00:00"), 5)
    assert hourly.latest_due(due, due + 1) == (due, 0)
    minutely = Cadence.build(cron="* * * * *")
    tick, missed = minutely.latest_due(due, due + 10 * 24 * 3600 * 1000)
    assert missed == 1000  # counted one by one up to MISSED_COUNTED, no further
