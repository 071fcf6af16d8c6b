"""``STORAGE_JOBS_PRODUCER_TOKENS``: read as JSON, each token long enough, none the dashboard's."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from storage_jobs.cli import cli
from storage_jobs.settings import Settings

LONG = "a-producer-token-long-enough"


def test_tokens_are_read_from_json_and_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_JOBS_PRODUCER_TOKENS", f'{{"web": "{LONG}", "go-app": "{LONG}x"}}')
    settings = Settings()
    assert {n: t.get_secret_value() for n, t in settings.producer_tokens.items()} == {
        "web": LONG,
        "go-app": f"{LONG}x",
    }
    assert LONG not in repr(settings) and LONG not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("tokens", "says"),
    [
        ({"web": "fifteen-chars15"}, "at least 16 characters: web"),
        ({"bad name": LONG}, "String should match pattern"),
    ],
)
def test_a_short_token_or_a_bad_name_is_refused(tokens: dict[str, str], says: str) -> None:
    with pytest.raises(ValidationError, match=says) as refused:
        Settings(producer_tokens=tokens)
    assert "fifteen-chars15" not in str(refused.value)


def test_a_producer_token_may_not_be_the_dashboards() -> None:
    with pytest.raises(ValidationError, match="equals STORAGE_JOBS_DASHBOARD_TOKEN") as refused:
        Settings(producer_tokens={"web": LONG}, dashboard_token=LONG)
    assert LONG not in str(refused.value)
    Settings(producer_tokens={"web": LONG}, dashboard_token=f"{LONG}-other")


def test_the_dashboard_command_refuses_a_short_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_JOBS_PRODUCER_TOKENS", '{"web": "short-token"}')
    served: list[object] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: served.append(a))
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 2 and "at least 16 characters: web" in result.output
    assert "short-token" not in result.output
    assert served == []
