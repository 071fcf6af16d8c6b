"""The queue's scripts are ``.lua`` files that read alone.

Each has a header naming every key and argument, takes every key through KEYS, and no Lua is
left anywhere else in ``src/``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from storage_jobs.queue import SCRIPT_NAMES
from storage_jobs.queue._scripts import script_text

SRC = Path(__file__).resolve().parents[2] / "src"
LUA = resources.files("storage_jobs.queue").joinpath("lua")


def _header_and_body(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines) if not line.startswith("--"))
    body = "\n".join(re.sub(r"--.*", "", line) for line in lines[n:])
    return "\n".join(lines[:n]), body


def test_every_script_is_a_lua_file_and_every_lua_file_a_script() -> None:
    files = sorted(p.name.removesuffix(".lua") for p in LUA.iterdir() if p.name.endswith(".lua"))
    assert files == sorted(SCRIPT_NAMES)
    with pytest.raises(ValueError, match="no queue script"):
        script_text("nope")


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_script_names_each_key_and_argument_it_reads_in_its_header(name: str) -> None:
    header, body = _header_and_body(script_text(name))
    assert header.startswith(f"-- {name}: ")
    for kind in ("KEYS", "ARGV"):
        used = set(re.findall(rf"{kind}\[(\d+)\]", body))
        named = set(re.findall(rf"{kind}\[(\d+)\]", header))
        assert used <= named, f"{name}.lua: {kind} {sorted(used - named)} not in its header"


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_script_builds_no_key_name(name: str) -> None:
    """No string concatenation (``..``) and no pattern match: keys come only through KEYS."""
    _, body = _header_and_body(script_text(name))
    assert ".." not in body.replace("...", "")
    assert "string.match" not in body and "string.gsub" not in body


def test_no_lua_is_embedded_in_python_anywhere_in_src() -> None:
    """Scripts live in ``queue/lua/``: no ``redis.call`` (Lua's) in any Python file of ``src``."""
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"redis\.p?call\(|register_script\((?!script_text)", line)
    ]
    assert offenders == []
