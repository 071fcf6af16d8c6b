"""``storage-jobs schedule add|list|pause|resume|remove`` on real Redis (in-process CLI runs)."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner, Result

from storage_jobs.cli import cli
from tests.fixtures_redis import TestRedis

pytestmark = pytest.mark.integration


@pytest.fixture
def run(redis_server: TestRedis, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STORAGE_JOBS_REDIS_URL", redis_server.url(13))
    monkeypatch.setenv("STORAGE_JOBS_QUEUE_NAME", f"cli-{uuid.uuid4().hex[:10]}")
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, ["schedule", *args])


def listed(runner: CliRunner) -> list[dict[str, object]]:
    result = invoke(runner, "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_add_takes_the_job_as_enqueue_does_and_the_rest_manage_it(run: CliRunner) -> None:
    added = invoke(
        run, "add", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Paris",
        "upload", "bkt-a", "reports/today.txt", "--data", "hello", "--priority", "high", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    data = json.loads(added.stdout)
    assert (data["added"], data["kind"], data["priority"]) == ("created", "upload", "high")
    assert data["spec"] == "cron 0 3 * * * (Europe/Paris)" and data["next_tick"].endswith("+00:00")
    again = invoke(run, "add", "cleanup", "--every", "3600", "delete", "bkt-a", "tmp/a", "tmp/b")
    assert again.exit_code == 0 and "cleanup: created; every 3600s" in again.stdout
    same = invoke(run, "add", "cleanup", "--every", "3600", "delete", "bkt-a", "tmp/a", "tmp/b")
    assert "cleanup: unchanged" in same.stdout
    assert [s["name"] for s in listed(run)] == ["cleanup", "nightly"]
    table = invoke(run, "list")
    assert "nightly" in table.stdout and "cron 0 3 * * * (Europe/Paris)" in table.stdout

    assert invoke(run, "pause", "nightly").exit_code == 0
    assert invoke(run, "pause", "nightly").exit_code == 3
    assert [s["paused"] for s in listed(run)] == [False, True]
    assert invoke(run, "resume", "nightly").exit_code == 0
    assert invoke(run, "resume", "nightly").exit_code == 3
    assert invoke(run, "remove", "nightly").exit_code == 0
    assert invoke(run, "remove", "nightly").exit_code == 3
    assert [s["name"] for s in listed(run)] == ["cleanup"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["n", "--cron", "nope", "delete", "bkt-a", "k"], "croniter"),
        (["n", "--every", "60", "--cron", "* * * * *", "delete", "bkt-a", "k"], "exactly one"),
        (["n", "delete", "bkt-a", "k"], "exactly one"),
        (["n", "--every", "0", "delete", "bkt-a", "k"], "> 0"),
        (["n", "--cron", "0 3 * * *", "--timezone", "Mars/X", "delete", "bkt-a", "k"], "zone"),
        (["bad name", "--every", "60", "delete", "bkt-a", "k"], "schedule's name"),
        (["n", "--every", "60", "delete", "bkt-a", "k", "--job-id", "x"], "do not apply"),
        (["n", "--every", "60", "delete", "b", "k"], "invalid job"),
        (["n", "--every", "60", "frob", "bkt-a"], "No such command"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    run: CliRunner, args: list[str], message: str
) -> None:
    result = invoke(run, "add", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert listed(run) == []
