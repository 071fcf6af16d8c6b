"""Structured logs (structlog): JSON in production, readable on a terminal, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog

from .queue import redis_password
from .settings import Settings

__all__ = ["SecretScrubber", "configure_logging", "secrets_of"]


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold (S3 keys, Redis password), for scrubbing."""
    values = [settings.s3_secret_access_key, settings.s3_session_token]
    found = [v.get_secret_value() for v in values if v is not None]
    raw = urlsplit(settings.redis_url.get_secret_value()).password
    # Scrub the password both as written in the URL and as sent to Redis (percent-decoded).
    found.extend(p for p in {raw, redis_password(settings)} if p)
    return [s for s in found if len(s) >= 4]


class SecretScrubber:
    """A structlog processor that replaces known secret values anywhere in an event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Scrubs one event."""
        if self.secrets:
            for name, value in event.items():
                event[name] = self._scrub(value)
        return event

    def _scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


def _fallback(obj: Any) -> Any:
    """What orjson cannot write itself: structlog's own fallback (``__structlog__`` or repr)."""
    method = getattr(obj, "__structlog__", None)
    return method() if callable(method) else repr(obj)


def _dumps(event: Any, **_: Any) -> str:
    """One JSON line: orjson (a tenth of ``json.dumps``'s time), the stdlib for what it refuses."""
    try:
        return orjson.dumps(event, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # Integers past 64 bits, say: the stdlib writes them.
        return json.dumps(event, default=_fallback)


def configure_logging(settings: Settings) -> None:
    """Sets structlog (and stdlib logging, for arq's lines) up once per process.

    Lines below the level cost a no-op call (``make_filtering_bound_logger``), loggers are
    built once (``cache_logger_on_first_use``) and JSON is written by orjson.
    """
    level = getattr(logging, settings.log_level)
    json_out = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if json_out
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    scrubber = SecretScrubber(secrets_of(settings))
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            scrubber,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # arq logs through stdlib logging; route it through the same renderer and scrubber.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                scrubber,
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request chatter from botocore would drown the job events.
    for noisy in ("botocore", "aiobotocore", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # arq's per-job lines repeat our job.start/job.done events (and print the payload).
    arq_log = logging.getLogger("arq.worker")
    arq_log.setLevel(max(level, logging.WARNING))
    arq_log.addFilter(_drop_reported_failures)


def _drop_reported_failures(record: logging.LogRecord) -> bool:
    # A JobFailure was already logged as job.failed with its code; arq's traceback adds noise.
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ != "JobFailure"
