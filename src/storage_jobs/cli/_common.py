"""What the operations commands share: settings, the Redis connection, exit codes, output."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from pydantic import BaseModel, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from .._redis import connect_redis
from ..settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "EXIT_FAILED",
    "EXIT_NOT_READY",
    "EXIT_OK",
    "EXIT_REDIS",
    "EXIT_USAGE",
    "Output",
    "dump",
    "fields_table",
    "json_option",
    "load_settings",
    "run_with_redis",
    "validation_message",
]

EXIT_OK = 0
EXIT_FAILED = 1
"""The job failed, the check failed, or some of the items could not be handled."""
EXIT_USAGE = 2
"""Bad arguments or configuration (click's own code for usage errors); nothing was changed."""
EXIT_NOT_READY = 3
"""The job has not finished (yet), or there is no such job / dead letter."""
EXIT_REDIS = 4
"""Redis could not be reached (or answered with an error)."""

F = TypeVar("F", bound=Callable[..., Any])

json_option: Callable[[F], F] = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print machine-readable JSON on stdout instead of tables.",
)


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as ``field: problem; field: problem`` (no input values echoed)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:10]
    )


def load_settings() -> Settings:
    """Settings from the ``STORAGE_JOBS_*`` environment; a bad value is a usage error."""
    try:
        return Settings()
    except ValidationError as exc:
        raise click.UsageError(
            f"invalid STORAGE_JOBS_* setting: {validation_message(exc)}"
        ) from None


@contextlib.asynccontextmanager
async def _connected(settings: Settings) -> AsyncIterator[Redis]:
    # Fail fast on a dead host instead of hanging on the OS connect timeout.
    redis = connect_redis(settings, socket_connect_timeout=5, socket_timeout=30)
    try:
        yield redis
    finally:
        with contextlib.suppress(RedisError, OSError):
            await redis.aclose()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def run_with_redis(
    settings: Settings, body: Callable[[Redis], Coroutine[Any, Any, int]]
) -> NoReturn:
    """Runs ``body`` with a connection and exits with its code (4 when Redis fails)."""

    async def main() -> int:
        async with _connected(settings) as redis:
            return await body(redis)

    try:
        code = asyncio.run(main())
    except (RedisConnectionError, ConnectionError) as exc:
        click.echo(
            f"Error: Redis is unreachable at {settings.redis_url_redacted}: {_one_line(exc)}",
            err=True,
        )
        raise SystemExit(EXIT_REDIS) from None
    except RedisError as exc:
        click.echo(
            f"Error: Redis at {settings.redis_url_redacted} failed: "
            f"{type(exc).__name__}: {_one_line(exc)}",
            err=True,
        )
        raise SystemExit(EXIT_REDIS) from None
    raise SystemExit(code)


class Output:
    """Tables for people, JSON for scripts (always on stdout; errors go to stderr)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False, soft_wrap=False)

    def json(self, data: Any) -> None:
        """Prints one JSON document."""
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))

    def line(self, text: str) -> None:
        """Prints a line of plain text (no markup interpretation)."""
        self.console.print(text, markup=False, soft_wrap=True)

    def table(self, table: Table) -> None:
        """Prints a rich table."""
        self.console.print(table)

    def error(self, text: str) -> None:
        """Prints a one-line message on stderr."""
        click.echo(text, err=True)


def fields_table(title: str | None, data: dict[str, Any]) -> Table:
    """A two-column ``field | value`` table."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        table.add_row(name, "" if value is None else str(value))
    return table


def dump(value: Any) -> Any:
    """JSON-ready data of a result model (or whatever it already is)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
