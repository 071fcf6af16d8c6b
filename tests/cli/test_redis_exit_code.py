"""Exit code 4: every operator command, pointed at a port where no Redis listens."""

from __future__ import annotations

import os
import socket
import subprocess

import click
import pytest

from storage_jobs.cli import cli
from tests.workers import cli_path

# Every command the operator table (docs/deployment.md) lists, with arguments that are valid, so
# the only thing wrong is Redis. `worker` waits for Redis instead, `dev` brings its own, and
# `dashboard` is a server whose pages answer a Redis failure per request.
COMMANDS: dict[str, list[str]] = {
    "enqueue upload": ["enqueue", "upload", "b-1", "k", "--data", "x"],
    "enqueue copy": ["enqueue", "copy", "b-1", "a", "b"],
    "enqueue delete": ["enqueue", "delete", "b-1", "k"],
    "status": ["status", "j"],
    "result": ["result", "j", "--json"],
    "queue": ["queue"],
    "dead-letters list": ["dead-letters", "list"],
    "dead-letters show": ["dead-letters", "show", "j"],
    "dead-letters replay": ["dead-letters", "replay", "--all"],
    "dead-letters drop": ["dead-letters", "drop", "j"],
    "health": ["health"],
    "migrate": ["migrate", "b-1/a/", "b-2/a/", "--json"],
    "move": ["move", "b-1/a/", "b-2/a/", "--json"],
    "delete-prefix": ["delete-prefix", "b-1/a/", "--watch"],
    "progress": ["progress", "j"],
    "verify": ["verify", "b-1/a/", "b-2/a/", "--json"],
    "cancel": ["cancel", "j"],
    "pause": ["pause", "j"],
    "resume": ["resume", "j"],
    "queue pause": ["queue", "pause"],
    "queue resume": ["queue", "resume"],
    "schedule add": ["schedule", "add", "s", "--every", "60", "delete", "b-1", "k"],
    "schedule list": ["schedule", "list"],
    "schedule remove": ["schedule", "remove", "s"],
    "schedule pause": ["schedule", "pause", "s"],
    "schedule resume": ["schedule", "resume", "s"],
    "events": ["events", "--json"],
}
NOT_ON_REDIS = {"worker", "dev", "dashboard"}


def _leaves(group: click.Group, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            if command.invoke_without_command:  # `storage-jobs queue` runs on its own too
                names.add(f"{prefix}{name}")
            names |= _leaves(command, f"{prefix}{name} ")
        else:
            names.add(f"{prefix}{name}")
    return names


def test_every_command_is_covered() -> None:
    """A command added later must join COMMANDS (or say why it does not talk to Redis)."""
    assert _leaves(cli) == set(COMMANDS) | NOT_ON_REDIS


@pytest.fixture(scope="module")
def closed_port_env() -> dict[str, str]:
    """The environment with a Redis URL (password included) on a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return {
        **os.environ,
        "STORAGE_JOBS_REDIS_URL": f"redis://:hunter2secret@127.0.0.1:{port}/9",
        "STORAGE_JOBS_QUEUE_NAME": "exit-code-4",
    }


@pytest.mark.integration  # no server needed, but each run spends ~2.5 s of CPU on imports
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_unreachable_redis_exits_4_with_one_line(
    name: str, closed_port_env: dict[str, str]
) -> None:
    """Exit 4, nothing on stdout, one line on stderr naming Redis, never the password."""
    proc = subprocess.run(
        [cli_path(), *COMMANDS[name]],
        env=closed_port_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 4, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Redis is unreachable" in proc.stderr
    assert "hunter2secret" not in proc.stderr
