"""Redis memory: the eviction policy (a queue survives only ``noeviction``) and a full Redis.

Under any other ``maxmemory-policy`` a full Redis drops keys to make room, and job keys, leases
and results are keys: jobs vanish without an error. BullMQ refuses to start on anything else,
Sidekiq's docs ask for the same. This module reads the policy; the worker, the client and the
CLI decide what to do about it. Under ``noeviction`` a full Redis refuses writes with an ``OOM``
error instead; ``is_redis_full`` recognises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["NOEVICTION", "EvictionPolicy", "is_redis_full", "read_eviction_policy", "redis_said"]

NOEVICTION = "noeviction"

Source = Literal["CONFIG GET", "INFO memory", "setting", "unknown"]


@dataclass(frozen=True)
class EvictionPolicy:
    """What Redis's ``maxmemory-policy`` is, and how we know.

    Attributes:
        policy: The policy (``noeviction``, ``allkeys-lru``, ...) or ``unknown``.
        source: Where it was read: ``CONFIG GET``, ``INFO memory``, the
            ``STORAGE_JOBS_REDIS_MAXMEMORY_POLICY`` setting, or ``unknown``.
        reason: Why it is unknown (each refusal, one line), else None.
    """

    policy: str
    source: Source
    reason: str | None = None

    @property
    def safe(self) -> bool:
        """Whether Redis is known to never evict our keys."""
        return self.policy == NOEVICTION

    def problem(self) -> str | None:
        """One line saying what is wrong, or None under ``noeviction``."""
        if self.safe:
            return None
        if self.policy == "unknown":
            return (
                f"Redis maxmemory-policy is unknown ({self.reason}); queues need noeviction: "
                "set STORAGE_JOBS_REDIS_MAXMEMORY_POLICY to what your provider configured"
            )
        return (
            f"Redis maxmemory-policy is {self.policy} (from {self.source}), not noeviction: "
            "a full Redis will silently drop queued jobs, leases and results"
        )

    def as_dict(self) -> dict[str, str | bool | None]:
        """JSON-ready form (``storage-jobs queue --json``, ``health --json``)."""
        return {
            "policy": self.policy,
            "source": self.source,
            "safe": self.safe,
            "reason": self.reason,
        }


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


async def read_eviction_policy(redis: Redis, *, declared: str | None = None) -> EvictionPolicy:
    """Reads the policy: ``CONFIG GET``, else ``INFO memory``, else the declared setting.

    Managed Redis services often refuse ``CONFIG`` (and an ACL user may lack it); ``INFO memory``
    carries ``maxmemory_policy`` too. Connection errors propagate: they are not an answer.

    Args:
        redis: The connection.
        declared: The operator's statement of the policy (``STORAGE_JOBS_REDIS_MAXMEMORY_POLICY``),
            used only when Redis answers neither.
    """
    reasons: list[str] = []
    try:
        answer = await redis.config_get("maxmemory-policy")
    except RedisError as exc:
        if not _refusal(exc):
            raise
        reasons.append(f"CONFIG GET refused ({_short(exc)})")
    else:
        value = next((_text(v) for k, v in answer.items() if _text(k) == "maxmemory-policy"), "")
        if value:
            return EvictionPolicy(value, "CONFIG GET")
        reasons.append("CONFIG GET returned nothing")
    try:
        info = await redis.info("memory")
    except RedisError as exc:
        if not _refusal(exc):
            raise
        reasons.append(f"INFO refused ({_short(exc)})")
    else:
        value = _text(info.get("maxmemory_policy"))
        if value:
            return EvictionPolicy(value, "INFO memory")
        reasons.append("INFO memory has no maxmemory_policy")
    if declared:
        return EvictionPolicy(declared, "setting", "; ".join(reasons))
    return EvictionPolicy("unknown", "unknown", "; ".join(reasons))


def _refusal(exc: RedisError) -> bool:
    # A refused or unknown command is an answer about permissions; a dead connection is not.
    return not isinstance(exc, RedisConnectionError | RedisTimeoutError)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def redis_said(exc: BaseException) -> str:
    """What Redis answered, without redis-py's quote of the failed command.

    redis-py prefixes a pipeline's error with the whole command ("Command # 3 (EVALSHA ...
    <payload> ...) of pipeline caused error: ..."); only the part after it came from Redis.
    """
    message = str(exc.args[0]) if exc.args else ""
    _, marker, said = message.partition("of pipeline caused error: ")
    text = " ".join((said if marker else message).split())
    if marker and text[:2] in ("('", '("') and text[-3:] in ("',)", '",)'):
        text = text[2:-3]  # the annotation quotes the original args tuple
    return text


def is_redis_full(exc: BaseException) -> bool:
    """Whether ``exc`` is Redis refusing a write at ``maxmemory`` (``OOM ...``)."""
    # Redis 7 answers "OOM command not allowed ..."; inside a script Redis 6 wraps it in
    # "Error running script ...: -OOM command not allowed ...".
    # redis-py maps a plain "OOM" reply to OutOfMemoryError, dropping the word "OOM".
    if isinstance(exc, OutOfMemoryError):
        return True
    return isinstance(exc, ResponseError) and "OOM command not allowed" in redis_said(exc)
