"""``storage-jobs dashboard`` refuses a non-loopback address without a token."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from storage_jobs.cli import cli
from storage_jobs.cli._dashboard_cmd import is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.0.2.1", False),
        ("::", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_refuses_a_public_address_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_JOBS_DASHBOARD_TOKEN", raising=False)
    served: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: served.append(a))
    result = CliRunner().invoke(cli, ["dashboard", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "without STORAGE_JOBS_DASHBOARD_TOKEN" in result.output
    assert served == []


def test_serves_a_public_address_with_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_JOBS_DASHBOARD_TOKEN", "a-long-enough-token")
    served: list[dict[str, object]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **k: served.append(k))
    result = CliRunner().invoke(cli, ["dashboard", "--host", "0.0.0.0", "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert served == [
        {"host": "0.0.0.0", "port": 9999, "log_level": "warning", "proxy_headers": False}
    ]
    assert "a-long-enough-token" not in result.output
