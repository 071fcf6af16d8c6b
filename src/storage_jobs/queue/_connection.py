"""Redis connections from settings: plain, password, TLS (``rediss://``) and Sentinel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..settings import Settings
from ._cluster import connect_detected, is_cluster

__all__ = ["RedisTarget", "connect_redis", "open_redis", "redis_password"]

# TLS options of a ``rediss://`` URL's query, as redis-py's ``from_url`` (the producers) reads them.
TLS_QUERY_PARAMS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_FALSE = ("0", "F", "FALSE", "N", "NO")  # redis-py's ``to_bool``


@dataclass(frozen=True)
class RedisTarget:
    """Where and how to reach Redis, read from the settings' URL once for every client.

    Attributes:
        url: The URL as configured (holds the password; never log it).
        username: The percent-decoded user name.
        password: The percent-decoded password.
        ssl: Whether the scheme is ``rediss://``.
        database: The database number.
        tls: TLS options given in the URL's query (``ssl_ca_certs``, ...).
        ssl_check_hostname: ``ssl_check_hostname`` from the query, when given.
        sentinels: ``(host, port)`` of each Sentinel, when Sentinel is used.
        sentinel_master: The Sentinel master name.
    """

    url: str = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    ssl: bool
    database: int
    tls: dict[str, str]
    ssl_check_hostname: bool | None
    sentinels: tuple[tuple[str, int], ...]
    sentinel_master: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTarget:
        """Parses the settings' Redis URL and Sentinel list."""
        url = settings.redis_url.get_secret_value()
        parts = urlsplit(url)
        query = {name: values[0] for name, values in parse_qs(parts.query).items() if values}
        path = parts.path.lstrip("/")
        check = query.get("ssl_check_hostname")
        return cls(
            url=url,
            # Percent-decoded, as redis-py's from_url (the producers) does.
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ssl=parts.scheme == "rediss",
            database=int(path) if path.isdigit() else int(query.get("db", 0)),
            tls={name: query[name] for name in TLS_QUERY_PARAMS if name in query},
            ssl_check_hostname=None if check is None else check.upper() not in _FALSE,
            sentinels=tuple(_sentinel_host(entry) for entry in settings.redis_sentinels),
            sentinel_master=settings.redis_sentinel_master,
        )


def _sentinel_host(entry: str) -> tuple[str, int]:
    host, _, port = entry.rpartition(":")
    return (host, int(port)) if host else (entry, 26379)


def redis_password(settings: Settings) -> str | None:
    """The decoded Redis password of the settings' URL, if any."""
    return RedisTarget.from_settings(settings).password


def connect_redis(settings: Settings, **options: Any) -> Redis:
    """A redis-py asyncio client for producers, the CLI and job state."""
    target = RedisTarget.from_settings(settings)
    if target.sentinels:
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(target.sentinels),
            username=target.username,
            password=target.password,
            ssl=target.ssl,
            **options,
        )
        master: Redis = sentinel.master_for(target.sentinel_master, db=target.database)
        return master
    client: Redis = Redis.from_url(target.url, **options)
    return client


async def open_redis(settings: Settings, **options: Any) -> tuple[Redis, bool]:
    """A client for the settings' Redis, and whether it is a cluster.

    A cluster is detected from the server (``STORAGE_JOBS_REDIS_CLUSTER`` may say instead);
    Sentinel is never a cluster. A server that cannot be reached is taken for one server: the
    client is returned unconnected, and its first command fails as it would have.

    Returns:
        The client (a ``RedisCluster`` on a cluster: it answers the commands the queue uses,
        routed by key, so it is typed as one server's) and whether it is a cluster's.

    Raises:
        ClusterDatabaseError: If the URL names a database other than 0 on a cluster.
    """
    target = RedisTarget.from_settings(settings)
    cluster = settings.redis_cluster
    if target.sentinels:
        cluster = False
    elif cluster is None:
        try:
            cluster = await is_cluster(target.url, **options)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            cluster = False
    if not cluster:
        return connect_redis(settings, **options), False
    return cast(Redis, await connect_detected(target.url, cluster=True, **options)), True
