"""README.md stays short, runs the commands CI runs, and links only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
MAX_LINES = 250


def test_readme_is_short() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; the rest goes in docs/"


def test_ci_runs_exactly_the_readme_test_commands() -> None:
    readme = {
        line.split("#")[0].strip()
        for line in README.read_text().splitlines()
        if line.startswith("uv run pytest")
    }
    ci = {line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()}
    assert readme == {"uv run pytest", "uv run pytest -m slow"}
    assert readme <= ci


def test_relative_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, "the README links into docs/"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
