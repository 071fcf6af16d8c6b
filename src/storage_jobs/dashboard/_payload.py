"""Payloads as the dashboard shows them: inline data cut, long lists and strings shortened.

Job payloads carry no credentials by design (other endpoints are named source profiles), but a
field whose name looks secret is masked anyway, in case a future job kind gets one wrong.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from ..queue import parse_envelope

__all__ = ["shown_payload", "shown_value"]

MAX_STRING = 300
MAX_ITEMS = 20
_INLINE = {"data"}
_SECRET_WORDS = ("secret", "password", "token", "credential", "private")


def shown_value(value: Any, *, depth: int = 0) -> Any:
    """A JSON value fit to show: strings and lists shortened, secret-looking fields masked."""
    if depth > 8:
        return "…"
    if isinstance(value, dict):
        shown: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if any(word in name.lower() for word in _SECRET_WORDS):
                shown[name] = "***"
            elif name in _INLINE and isinstance(item, str):
                shown[name] = f"<inline data, {len(item):,} characters, not shown>"
            else:
                shown[name] = shown_value(item, depth=depth + 1)
        return shown
    if isinstance(value, list):
        items = [shown_value(v, depth=depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS:,} more")
        return items
    if isinstance(value, str) and len(value) > MAX_STRING:
        return value[:MAX_STRING] + f"… ({len(value):,} characters)"
    return value


def shown_payload(text: str | None, encoding: str = "utf-8") -> Any:
    """A stored payload fit to show: parsed JSON made safe, or a short note about the bytes."""
    if text is None:
        return None
    if encoding == "base64":
        size = len(base64.b64decode(text, validate=False))
        return f"<binary payload, {size:,} bytes (a pickle or garbage), not shown>"
    try:
        data = json.loads(text)
    except ValueError:
        return shown_value(text.encode("unicode_escape").decode()[:MAX_STRING])
    if isinstance(data, dict) and "kind" not in data:
        # A whole job envelope (a job that failed before it ran): show its payload.
        with contextlib.suppress(ValueError):
            return shown_payload(parse_envelope(text.encode()).payload)
    return shown_value(data)
