"""cProfile summaries of the worker processes of a ``--profile`` run.

Workers are profiled by CPU time (``bench/cpu_profile.py``), so the figures say where the
worker's own CPU goes: ``profile-<scenario>.txt`` starts with the CPU per package (self time,
the function's own code) and of a few call trees that matter (cumulative), then pstats' top
functions by self and by cumulative time.
"""

from __future__ import annotations

import io
import pstats
from pathlib import Path
from typing import Any

__all__ = ["cpu_breakdown", "summarize_profiles", "top_entries"]

PACKAGES = (
    "botocore",
    "aiobotocore",
    "aiohttp",
    "redis",
    "arq",
    "structlog",
    "pydantic",
    "prometheus_client",
    "storage_jobs",
    "asyncio",
    "logging",
)
"""Packages whose self time is reported apart; the rest is ``other Python`` or ``C builtins``."""

TREES = {
    "botocore _make_api_call (one S3 request, all of it)": ("client.py", "_make_api_call"),
    "  endpoint ruleset resolution": ("client.py", "_resolve_endpoint_ruleset"),
    "  request signing": ("signers.py", "sign"),
    "  user agent header": ("useragent.py", "to_string"),
    "  event hooks (_emit)": ("hooks.py", "_emit"),
    "job runtime (_execute, S3 call included)": ("_runtime.py", "_execute"),
    "structlog: a log call, rendered and written": ("_native.py", "meth"),
    "imports (start-up, mostly)": ("<frozen importlib._bootstrap>", "_find_and_load"),
}
"""Call trees reported by cumulative time: (file name, function name)."""


def _package(filename: str) -> str:
    if filename == "~":
        return "C builtins (sockets, select, compile, ...)"
    parts = Path(filename).parts
    for name in PACKAGES:
        if name in parts:
            return name
    return "other Python"


def cpu_breakdown(paths: list[Path]) -> str:
    """Where the profiled CPU went: per package (self) and per call tree (cumulative)."""
    stats: dict[Any, Any] = pstats.Stats(*(str(p) for p in paths)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values()) or 1.0
    packages: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.items():
        packages[_package(filename)] = packages.get(_package(filename), 0.0) + tottime
    lines = [f"CPU profiled: {total:.2f} s", "", "self time by package:"]
    for name, seconds in sorted(packages.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {seconds:8.2f} s {100 * seconds / total:5.1f} %  {name}")
    lines += ["", "cumulative time of call trees:"]
    for label, (file_end, func) in TREES.items():
        # The outermost of same-named functions (useragent.py has three to_string methods).
        seconds = max(
            (
                entry[3]
                for (filename, _, name), entry in stats.items()
                if name == func and filename.endswith(file_end)
            ),
            default=0.0,
        )
        lines.append(f"  {seconds:8.2f} s {100 * seconds / total:5.1f} %  {label}")
    return "\n".join(lines) + "\n"


def top_entries(paths: list[Path], *, limit: int = 25, sort: str = "tottime") -> str:
    """The top ``limit`` functions of the merged profiles, as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(*(str(p) for p in paths), stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


def summarize_profiles(src: Path, dst: Path) -> None:
    """Writes ``profile-<scenario>.txt`` (breakdown, by tottime, by cumtime) into ``dst``."""
    if not src.exists():
        return
    dst.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[Path]] = {}
    for path in sorted(src.glob("*.prof")):
        groups.setdefault(path.stem.rsplit("-", 1)[0], []).append(path)
    for name, paths in groups.items():
        text = cpu_breakdown(paths) + "\n" + top_entries(paths, limit=40)
        text += "\n" + top_entries(paths, limit=40, sort="cumtime")
        (dst / f"profile-{name}.txt").write_text(text)
