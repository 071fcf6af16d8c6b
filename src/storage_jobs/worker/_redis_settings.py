"""The worker's Redis connection in arq's form, from the same parse the producers use."""

from __future__ import annotations

from arq.connections import RedisSettings

from ..queue import RedisTarget
from ..settings import Settings

__all__ = ["arq_redis_settings"]


def arq_redis_settings(settings: Settings) -> RedisSettings:
    """The worker's connection settings, in arq's form."""
    target = RedisTarget.from_settings(settings)
    base = RedisSettings.from_dsn(target.url)
    # arq neither percent-decodes credentials nor reads the URL's TLS query: the producers'
    # redis-py does both, so the worker takes them from the shared parse.
    base.username = target.username
    base.password = target.password
    for name, value in target.tls.items():
        setattr(base, name, value)
    if target.ssl_check_hostname is not None:
        base.ssl_check_hostname = target.ssl_check_hostname
    base.conn_retries = 5
    base.conn_retry_delay = 1
    if target.sentinels:
        base.host = list(target.sentinels)
        base.sentinel = True
        base.sentinel_master = target.sentinel_master
    return base
