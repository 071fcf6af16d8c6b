"""mkdocs hook: generated reference pages, files mounted from outside ``docs/``, includes.

- Generated: ``reference/settings.md`` and ``reference/redis-keys.md`` from the code.
- Mounted: a file kept elsewhere in the repository appears as a page (the runbook stays in
  ``ops/``, the benchmark write-up in ``bench/``, the changelog at the root).
- Included: a line ``<!-- include: PATH -->`` in a page is replaced by that file's text, and
  ``<!-- include: PATH#NAME -->`` by what stands between ``<!-- NAME:start -->`` and
  ``<!-- NAME:end -->`` in it. A missing file or marker fails the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # mkdocs puts only this file's own folder on the path
    sys.path.insert(0, str(ROOT))

from sitegen.redis_keys import redis_keys_page  # noqa: E402
from sitegen.settings_reference import settings_page  # noqa: E402

GENERATED = {
    "reference/settings.md": settings_page,
    "reference/redis-keys.md": redis_keys_page,
}
MOUNTED = {
    "runbook.md": "ops/runbook.md",
    "benchmarks.md": "bench/README.md",
    "results.png": "bench/results.png",
    "soak.png": "bench/soak/soak.png",
    "changelog.md": "CHANGELOG.md",
}
INCLUDE = re.compile(r"^<!-- include: (?P<path>[^#\s]+)(?:#(?P<name>[\w-]+))? -->$", re.MULTILINE)


def included(path: str, name: str | None) -> str:
    """The text ``<!-- include: path#name -->`` stands for.

    Raises:
        ValueError: If the file, or the marked part of it, is not there.
    """
    source = ROOT / path
    if not source.is_file():
        raise ValueError(f"include: no file {path}")
    text = source.read_text()
    if name is None:
        return text
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"include: {path} has no {start} ... {end}")
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def on_files(files: Files, config: Any) -> Files:
    """Adds the generated and the mounted pages."""
    for uri, make in GENERATED.items():
        files.append(File.generated(config, uri, content=make()))
    for uri, path in MOUNTED.items():
        files.append(File.generated(config, uri, abs_src_path=str(ROOT / path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replaces each include directive with the text it names."""
    try:
        return INCLUDE.sub(lambda m: included(m["path"], m["name"]), markdown)
    except ValueError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from exc
