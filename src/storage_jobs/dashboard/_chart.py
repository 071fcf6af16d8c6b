"""The overview's throughput chart, drawn as SVG on the server (no script, no CSP exception)."""

from __future__ import annotations

import time
from html import escape

from ..queue import MinuteCounts

__all__ = ["history_svg"]

_W, _H, _PAD = 720, 180, 28


_SERIES = (("succeeded", "#2a7d2e"), ("failed", "#c62828"), ("cancelled", "#757575"))


def history_svg(history: list[MinuteCounts]) -> str:
    """Succeeded, failed and cancelled jobs per minute as side-by-side bars, newest on the right.

    A job cancelled before it ran counts among the cancelled ones too (``queue._cancelled``).
    """
    peak = max([1, *(max(m.success, m.failed, m.cancelled) for m in history)])
    slot = (_W - 2 * _PAD) / max(1, len(history))
    bar = max(1.0, slot / len(_SERIES) - 1)
    legend = " ".join(f'<tspan fill="{colour}">■ {label}</tspan>' for label, colour in _SERIES)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="jobs per minute, last hour">',
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#fff"/>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<text x="{_PAD}" y="14" font-size="11" font-family="sans-serif" fill="#333">'
        f"peak {peak:,}/min</text>",
        f'<text x="{_W - _PAD - 230}" y="14" font-size="11" font-family="sans-serif">'
        f"{legend}</text>",
    ]
    height = _H - 2 * _PAD
    for i, minute in enumerate(history):
        x = _PAD + i * slot
        values = (minute.success, minute.failed, minute.cancelled)
        for n, ((label, colour), value) in enumerate(zip(_SERIES, values, strict=True)):
            offset = n * (bar + 1)
            if not value:
                continue
            h = max(1.0, height * value / peak)
            when = time.strftime("%H:%M", time.gmtime(minute.minute))
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{_H - _PAD - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(when)} UTC: {value:,} '
                f"{label}</title></rect>"
            )
    if history:
        first = time.strftime("%H:%M", time.gmtime(history[0].minute))
        last = time.strftime("%H:%M", time.gmtime(history[-1].minute))
        for x, text, anchor in ((_PAD, first, "start"), (_W - _PAD, last, "end")):
            parts.append(
                f'<text x="{x}" y="{_H - 8}" font-size="11" font-family="sans-serif" '
                f'text-anchor="{anchor}" fill="#333">{text} UTC</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
