"""cProfile summaries of the worker processes of a ``--profile`` run."""

from __future__ import annotations

import io
import pstats
from pathlib import Path

__all__ = ["summarize_profiles", "top_entries"]


def top_entries(paths: list[Path], *, limit: int = 25, sort: str = "tottime") -> str:
    """The top ``limit`` functions of the merged profiles, as pstats prints them."""
    out = io.StringIO()
    stats = pstats.Stats(*(str(p) for p in paths), stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(limit)
    return out.getvalue()


def summarize_profiles(src: Path, dst: Path) -> None:
    """Writes ``profile-<scenario>.txt`` (by tottime and cumtime) per scenario into ``dst``."""
    if not src.exists():
        return
    dst.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[Path]] = {}
    for path in sorted(src.glob("*.prof")):
        groups.setdefault(path.stem.rsplit("-", 1)[0], []).append(path)
    for name, paths in groups.items():
        text = top_entries(paths) + "\n" + top_entries(paths, sort="cumtime")
        (dst / f"profile-{name}.txt").write_text(text)
