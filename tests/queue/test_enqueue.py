"""The enqueue primitive's batching: script calls bounded by job count and payload bytes."""

from __future__ import annotations

from storage_jobs.queue import _enqueue


def _items(count: int, size: int) -> list[tuple[str, bytes, int, int, str]]:
    return [(f"j{i}", b"x" * size, 1000, 0, "q") for i in range(count)]


def test_calls_hold_at_most_six_hundred_jobs() -> None:
    """2,500 small jobs: calls of 600 and a last of 100, in order.

    A call of 600 jobs sends 3,605 arguments, under the 3,999 ElastiCache Serverless allows.
    """
    chunks = _enqueue._chunks(_items(2500, 10))
    assert [len(c) for c in chunks] == [600, 600, 600, 600, 100]
    assert [job_id for c in chunks for job_id, *_ in c] == [f"j{i}" for i in range(2500)]


def test_calls_hold_at_most_sixteen_mebibytes() -> None:
    """Five 5 MiB payloads: three fit under 16 MiB, so two calls (one request is buffered whole)."""
    chunks = _enqueue._chunks(_items(5, 5 * 1024 * 1024))
    assert [len(c) for c in chunks] == [3, 2]
    assert all(sum(len(d) for _, d, *_ in c) <= _enqueue.BATCH_BYTES for c in chunks)


def test_a_payload_larger_than_the_cap_gets_a_call_of_its_own() -> None:
    """A job bigger than the byte cap is still sent, alone."""
    items = [*_items(1, 10), (_big := ("big", b"x" * (_enqueue.BATCH_BYTES + 1), 1, 0, "q"))]
    assert [len(c) for c in _enqueue._chunks(items)] == [1, 1]


def test_calls_hold_one_lane_each() -> None:
    """Jobs of another lane start a call of their own (a call writes one sorted set)."""
    items = _items(3, 10)
    items[1] = (*items[1][:4], "other")
    assert [[i for i, *_ in c] for c in _enqueue._chunks(items)] == [["j0"], ["j1"], ["j2"]]
