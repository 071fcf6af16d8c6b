"""What a scenario measures: rows (one figure and its baseline), checks, per-run samples."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Check", "Row", "Sample", "spread", "summarize_row"]

Op = Literal[">=", "<=", "<", "=="]


@dataclass(frozen=True)
class Check:
    """One target: ``field op bound``.

    ``field`` is ``ratio`` (ours / baseline), ``ours``, ``baseline`` or an extra's name.
    Inequalities are judged on the median of the runs; ``==`` must hold in every run.
    """

    field: str
    op: Op
    bound: float
    text: str

    def holds(self, values: list[float]) -> bool:
        """Whether the target is met by these per-run values."""
        if not values:
            return False
        if self.op == "==":
            return all(math.isclose(v, self.bound) for v in values)
        median = statistics.median(values)
        if self.op == ">=":
            return median >= self.bound
        if self.op == "<=":
            return median <= self.bound
        return median < self.bound


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    key: str
    title: str
    unit: str
    ours_label: str
    baseline_label: str
    checks: tuple[Check, ...]
    higher_is_better: bool = True

    @property
    def target_text(self) -> str:
        """The targets, for the table."""
        return "; ".join(c.text for c in self.checks)


@dataclass
class Sample:
    """One run of one row: our figure, the baseline's, and extra figures (request counts...)."""

    ours: float
    baseline: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Ours / baseline."""
        return self.ours / self.baseline if self.baseline else math.inf


def spread(values: list[float]) -> dict[str, Any]:
    """Every run's value and their min/median/max."""
    return {
        "runs": [round(v, 6) for v in values],
        "min": round(min(values), 6),
        "median": round(statistics.median(values), 6),
        "max": round(max(values), 6),
    }


def summarize_row(row: Row, samples: list[Sample]) -> dict[str, Any]:
    """The JSON record of one row over all runs."""
    columns: dict[str, list[float]] = {
        "ours": [s.ours for s in samples],
        "baseline": [s.baseline for s in samples],
        "ratio": [s.ratio for s in samples],
    }
    for name in sorted({k for s in samples for k in s.extra}):
        columns[name] = [s.extra[name] for s in samples if name in s.extra]
    checks = [
        {
            "field": c.field,
            "op": c.op,
            "bound": c.bound,
            "text": c.text,
            "met": c.holds(columns.get(c.field, [])),
        }
        for c in row.checks
    ]
    return {
        "title": row.title,
        "unit": row.unit,
        "ours_label": row.ours_label,
        "baseline_label": row.baseline_label,
        "higher_is_better": row.higher_is_better,
        "target": row.target_text,
        "ours": spread(columns["ours"]),
        "baseline": spread(columns["baseline"]),
        "ratio": spread(columns["ratio"]),
        "extra": {
            k: spread(v) for k, v in columns.items() if k not in ("ours", "baseline", "ratio")
        },
        "checks": checks,
        "met": all(c["met"] for c in checks),
    }
