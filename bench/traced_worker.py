"""``storage-jobs worker`` with OpenTelemetry's SDK set up: its spans counted, then dropped.

Run as ``python -m bench.traced_worker`` (with ``STORAGE_JOBS_TRACING=true``). Spans go through
the SDK's ``BatchSpanProcessor``, as a deployment exports them, into ``CountingExporter``: the
cost measured is ours and the SDK's, not a collector's. ``BENCH_SPANS_FILE`` gets the spans
exported, counted by name (JSON), when the process exits (the SDK flushes them at exit).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

__all__ = ["CountingExporter", "install"]


class CountingExporter(SpanExporter):
    """Counts the spans it is handed by name; writes the counts to ``path`` (if any) at shutdown."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Counts a batch."""
        self.counts.update(span.name for span in spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Writes the counts."""
        if self.path:
            Path(self.path).write_text(json.dumps(self.counts))


def install(path: str | None = None) -> CountingExporter:
    """Sets a global SDK provider exporting to a ``CountingExporter`` (once per process)."""
    exporter = CountingExporter(path)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


def main() -> None:
    """Installs the SDK, then runs ``storage-jobs worker``."""
    install(os.environ.get("BENCH_SPANS_FILE"))
    from storage_jobs.cli import main as cli

    sys.argv = ["storage-jobs", "worker"]
    cli()


if __name__ == "__main__":
    main()
