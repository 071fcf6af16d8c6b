"""The overview's throughput chart, drawn as SVG on the server (no script, no CSP exception)."""

from __future__ import annotations

import time
from html import escape

from ..queue import MinuteCounts

__all__ = ["history_svg"]

_W, _H, _PAD = 720, 180, 28


def history_svg(history: list[MinuteCounts]) -> str:
    """Succeeded and failed jobs per minute as paired bars, the last minute on the right."""
    peak = max([1, *(max(m.success, m.failed) for m in history)])
    slot = (_W - 2 * _PAD) / max(1, len(history))
    bar = max(1.0, slot / 2 - 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" role="img" aria-label="jobs per minute, last hour">',
        f'<rect x="0" y="0" width="{_W}" height="{_H}" fill="#fff"/>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<text x="{_PAD}" y="14" font-size="11" font-family="sans-serif" fill="#333">'
        f"peak {peak:,}/min</text>",
        f'<text x="{_W - _PAD - 150}" y="14" font-size="11" font-family="sans-serif">'
        '<tspan fill="#2a7d2e">■ succeeded</tspan> <tspan fill="#c62828">■ failed</tspan></text>',
    ]
    height = _H - 2 * _PAD
    for i, minute in enumerate(history):
        x = _PAD + i * slot
        for offset, value, colour, label in (
            (0.0, minute.success, "#2a7d2e", "succeeded"),
            (bar + 1, minute.failed, "#c62828", "failed"),
        ):
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
