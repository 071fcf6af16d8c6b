"""Redis connections from settings: plain, password, TLS (``rediss://``) and Sentinel."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from arq.connections import RedisSettings
from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from .settings import Settings

__all__ = ["arq_redis_settings", "connect_redis", "redis_password"]


def _sentinel_hosts(settings: Settings) -> list[tuple[str, int]]:
    hosts = []
    for entry in settings.redis_sentinels:
        host, _, port = entry.rpartition(":")
        hosts.append((host or entry, int(port) if host else 26379))
    return hosts


# TLS options of a ``rediss://`` URL's query, as redis-py's ``from_url`` (the producers) reads them.
_TLS_QUERY_PARAMS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_FALSE = ("0", "F", "FALSE", "N", "NO")  # redis-py's ``to_bool``


def _settings_from_url(url: str) -> RedisSettings:
    base = RedisSettings.from_dsn(url)
    # arq does not percent-decode credentials; redis-py's from_url (the producers) does.
    parts = urlsplit(url)
    base.username = unquote(parts.username) if parts.username else None
    base.password = unquote(parts.password) if parts.password else None
    # arq ignores the query; map the TLS options so the worker verifies like the producers.
    query = {name: values[0] for name, values in parse_qs(parts.query).items() if values}
    for name in _TLS_QUERY_PARAMS:
        if name in query:
            setattr(base, name, query[name])
    if "ssl_check_hostname" in query:
        base.ssl_check_hostname = query["ssl_check_hostname"].upper() not in _FALSE
    return base


def redis_password(settings: Settings) -> str | None:
    """The decoded Redis password of the settings' URL, if any."""
    return _settings_from_url(settings.redis_url.get_secret_value()).password


def arq_redis_settings(settings: Settings) -> RedisSettings:
    """The worker's connection settings, in arq's form."""
    url = settings.redis_url.get_secret_value()
    base = _settings_from_url(url)
    base.conn_retries = 5
    base.conn_retry_delay = 1
    if settings.redis_sentinels:
        base.host = _sentinel_hosts(settings)
        base.sentinel = True
        base.sentinel_master = settings.redis_sentinel_master
    return base


def connect_redis(settings: Settings, **options: Any) -> Redis:
    """A redis-py asyncio client for producers, the CLI and job state."""
    url = settings.redis_url.get_secret_value()
    if settings.redis_sentinels:
        base = _settings_from_url(url)
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            _sentinel_hosts(settings),
            username=base.username,
            password=base.password,
            ssl=base.ssl,
            **options,
        )
        master: Redis = sentinel.master_for(settings.redis_sentinel_master, db=base.database)
        return master
    client: Redis = Redis.from_url(url, **options)
    return client
