"""A schedule's stored record, read back field by field."""

from __future__ import annotations

from storage_jobs.queue import ScheduleRecord


def test_a_stored_record_reads_field_by_field_whatever_it_holds() -> None:
    """A hand-edited or foreign hash reads with its bad fields empty, never raising."""
    raw = {
        b"function": b"storage_jobs.nope",
        b"payload": b"{broken",
        b"runs": b"many",
        b"next": b"soon",
        b"overlap": b"sometimes",
        b"priority": b"urgent",
        b"every_ms": b"-5",
    }
    record = ScheduleRecord.parse("odd", raw)
    assert (record.kind, record.job, record.runs, record.next_tick, record.next_ms) == (
        "unknown",
        None,
        0,
        None,
        0,
    )
    assert (record.overlap, record.priority, record.cadence.every_ms) == ("skip", None, None)
