"""``storage-jobs --version`` prints the installed package's version."""

from __future__ import annotations

import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner

import storage_jobs
from storage_jobs.cli import cli
from tests.workers import cli_path

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def _declared() -> str:
    return str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"storage-jobs, version {_declared()}\n"


def test_the_console_script_prints_it_too() -> None:
    out = subprocess.run([cli_path(), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"storage-jobs, version {version('storage-jobs')}"


def test_dunder_version_is_the_distribution_version() -> None:
    assert storage_jobs.__version__ == version("storage-jobs") == _declared()
