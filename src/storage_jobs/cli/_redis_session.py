"""Running a command against Redis: settings from the environment, one ``Queue``, exit codes.

Each command gets one ``Queue`` on one connection: every script it calls is registered once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

import click
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ..client import StorageJobsClient
from ..errors import QueueUnavailableError
from ..queue import Queue, ShardCountError, open_queue, redis_said
from ..settings import Settings
from ._exit_codes import EXIT_REDIS

if TYPE_CHECKING:
    pass

__all__ = ["client_on", "load_settings", "run_with_queue", "validation_message"]


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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def client_on(queue: Queue, settings: Settings) -> StorageJobsClient:
    """A client on the command's ``Queue`` (sharing its connection and scripts)."""
    return StorageJobsClient.on_connection(queue.redis, settings, queue=queue)


def run_with_queue(
    settings: Settings, body: Callable[[Queue], Coroutine[Any, Any, int]]
) -> NoReturn:
    """Runs ``body`` with the queue on a connection; exits with its code (4 when Redis fails)."""

    async def main() -> int:
        # Fail fast on a dead host instead of hanging on the OS connect timeout.
        queue = await open_queue(settings, socket_connect_timeout=5, socket_timeout=30)
        try:
            return await body(queue)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await queue.redis.aclose()

    try:
        code = asyncio.run(main())
    except (RedisConnectionError, ConnectionError) as exc:
        click.echo(
            f"Error: Redis is unreachable at {settings.redis_url_redacted}: {_one_line(exc)}",
            err=True,
        )
        raise SystemExit(EXIT_REDIS) from None
    except ShardCountError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_REDIS) from None
    except QueueUnavailableError as exc:
        click.echo(f"Error: Redis at {settings.redis_url_redacted}: {_one_line(exc)}", err=True)
        raise SystemExit(EXIT_REDIS) from None
    except RedisError as exc:
        # redis_said: a pipeline's error quotes its commands, payloads included.
        click.echo(
            f"Error: Redis at {settings.redis_url_redacted} failed: "
            f"{type(exc).__name__}: {_one_line(Exception(redis_said(exc)))}",
            err=True,
        )
        raise SystemExit(EXIT_REDIS) from None
    raise SystemExit(code)
