"""The trace context in arq's envelope: arq reads past it, and tracing off adds no byte."""

from __future__ import annotations

from arq.jobs import deserialize_job

from storage_jobs.queue import build_envelope, decode, parse_envelope, peek_function, peek_priority
from storage_jobs.tracing import TRACE_FIELD

CARRIER = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def test_tracing_off_adds_no_byte() -> None:
    """Without a trace context the envelope is arq's five fields (and a priority), no more."""
    raw = build_envelope("upload", '{"kind":"upload"}', 123, "high")
    assert raw == (
        b'{"f":"upload","p":"high","t":0,"a":["{\\"kind\\":\\"upload\\"}"],"k":{},"et":123}'
    )
    assert TRACE_FIELD.encode() not in build_envelope("upload", "{}", 123)


def test_arq_and_our_readers_read_past_it() -> None:
    """The arq deserializer, the strict parser and the peeks read a traced envelope unchanged."""
    for priority in (None, "bulk"):
        plain = build_envelope("upload", '{"kind":"upload"}', 123, priority)
        traced = build_envelope("upload", '{"kind":"upload"}', 123, priority, CARRIER)
        assert decode(traced)[TRACE_FIELD] == CARRIER
        assert deserialize_job(traced, deserializer=decode) == deserialize_job(
            plain, deserializer=decode
        )
        assert parse_envelope(traced) == parse_envelope(plain)
        assert peek_priority(traced) == priority
        assert peek_function(traced[:64]) == "upload"
