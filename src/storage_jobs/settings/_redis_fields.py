"""The Redis connection's and the queue's settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import NoDecode

from ._redaction import redact_url

__all__ = ["RedisFields"]


class RedisFields(BaseModel):
    """``Settings``' fields for Redis and the queue."""

    # Redis and the queue
    redis_url: SecretStr = Field(
        default=SecretStr("redis://127.0.0.1:6379/0"),
        description="`redis://` or `rediss://` (TLS) URL, with password and database; TLS "
        "options as query parameters: `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, "
        "`ssl_cert_reqs` (`required`/`optional`/`none`), `ssl_check_hostname`. Any node of a "
        "Redis Cluster works (cluster mode is detected).",
    )
    redis_sentinels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`host:port,host:port` to find the master through Sentinel; the URL's host "
        "and port are then ignored, its user, password, database and scheme still apply (the "
        "sentinels themselves are reached without TLS or password).",
    )
    redis_sentinel_master: str = Field(default="mymaster", description="Sentinel master name.")
    queue_name: str = Field(
        default="storage-jobs",
        min_length=1,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The queue's name: producers and workers of one queue share it.",
    )
    # One logical queue over N hash-tagged shards (queue/_shards.py): every producer and worker
    # of a queue must say the same N (it is recorded with the queue, and checked).
    queue_shards: int = Field(
        default=1,
        ge=1,
        le=128,
        description="Shards one logical queue is spread over (one per master on a cluster); "
        "every producer and worker of the queue must use the same number (it is recorded "
        "with the queue; another is refused).",
    )
    # Cluster mode: None asks the server (INFO cluster); True/False skip the question.
    redis_cluster: bool | None = Field(
        default=None,
        description="Redis Cluster mode: unset asks the server (`INFO cluster`); `true` or "
        "`false` skip the question.",
    )
    # Queues need maxmemory-policy noeviction (queue/_eviction.py); the declared policy is used
    # only where Redis refuses both CONFIG GET and INFO.
    redis_maxmemory_policy: str | None = Field(
        default=None,
        pattern=r"^[a-z-]{1,40}$",
        description="The `maxmemory-policy` your provider set, used only where Redis refuses "
        "both `CONFIG GET` and `INFO`.",
    )
    require_noeviction: bool = Field(
        default=False,
        description="`true`: a worker refuses to start (exit 2), and `health` reports "
        "unhealthy, unless Redis's `maxmemory-policy` is `noeviction`.",
    )
    redis_wait_replicas: int = Field(
        default=0,
        ge=0,
        le=16,
        description="WAIT after every enqueue and finish call until this many replicas hold "
        "the writes (0: no WAIT), for at most `redis_wait_timeout` seconds. Short: an enqueue "
        "raises `QueueUnavailableError`, a finish logs `redis.wait_short` and stands.",
    )
    redis_wait_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds a WAIT for `redis_wait_replicas` replicas lasts at most.",
    )

    @property
    def redis_url_redacted(self) -> str:
        """The Redis URL with any password replaced, safe to log."""
        return redact_url(self.redis_url.get_secret_value())
