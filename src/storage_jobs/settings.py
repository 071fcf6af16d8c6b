"""Settings: every knob, read once from ``STORAGE_JOBS_*`` environment variables."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .jobs import JobLimits
from .jobs._retry import DEFAULT_MAX_REQUESTS_PER_KEY, RetryBudget
from .storage import RateLimits, StorageConfig

__all__ = ["MIN_TOKEN_LENGTH", "Settings", "SourceProfile", "redact_url"]

MiB = 1024 * 1024
MIN_TOKEN_LENGTH = 16
"""Characters a dashboard or producer token needs at least."""
PRODUCER_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
"""A producer's name (it is logged with what it enqueues)."""
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True}
_BOOL_WORDS.update({"false": False, "no": False, "off": False, "0": False})


class SourceProfile(BaseModel):
    """Another S3 endpoint (or other credentials) that migrations may copy from.

    Named in ``STORAGE_JOBS_SOURCE_PROFILES`` (JSON: ``{"old": {"endpoint_url": ...}}``) and
    referred to by name in ``MigrateJob.src_endpoint``, so no secret travels in a job.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    region: str = "us-east-1"
    addressing_style: Literal["auto", "path", "virtual"] = "path"

    def storage_config(self, base: StorageConfig) -> StorageConfig:
        """The worker's storage config with this profile's endpoint and credentials."""
        return base.model_copy(
            update={
                "endpoint_url": self.endpoint_url,
                "access_key_id": self.access_key_id,
                "secret_access_key": self.secret_access_key,
                "session_token": self.session_token,
                "region": self.region,
                "addressing_style": self.addressing_style,
                "use_ssl": (self.endpoint_url or "https://").startswith("https://"),
                "public_urls": {},
            }
        )


class Settings(BaseSettings):
    """All configuration; build it once (``Settings()``) and pass it down.

    Every field reads from ``STORAGE_JOBS_<FIELD>``; ``S3_*`` fields configure the storage client.
    """

    # hide_input_in_errors: a refused value may be a secret (a short token, a URL with a password).
    model_config = SettingsConfigDict(
        env_prefix="STORAGE_JOBS_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # Redis and the queue
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str = "mymaster"
    queue_name: str = Field(default="storage-jobs", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    # One logical queue over N hash-tagged shards (queue/_shards.py): every producer and worker
    # of a queue must say the same N (it is recorded with the queue, and checked).
    queue_shards: int = Field(default=1, ge=1, le=128)
    # Cluster mode: None asks the server (INFO cluster); True/False skip the question.
    redis_cluster: bool | None = None
    # Queues need maxmemory-policy noeviction (queue/_eviction.py); the declared policy is used
    # only where Redis refuses both CONFIG GET and INFO.
    redis_maxmemory_policy: str | None = Field(default=None, pattern=r"^[a-z-]{1,40}$")
    require_noeviction: bool = False

    # The worker
    max_jobs: int = Field(default=16, ge=1, le=1000)
    # Free slots bulk jobs (prefix jobs' batches) leave to high and normal work, which then starts
    # at once; one bulk job may run whatever this says.
    reserved_slots: int = Field(default=1, ge=0, le=1000)
    # Seconds an idle worker blocks on the wake list at most: what a job written without a wake
    # token (a plain arq producer's) waits; lower costs Redis one claim per wait.
    idle_wait_max: float = Field(default=5.0, ge=0.1, le=60)
    job_timeout: float = Field(default=3600.0, gt=0)
    lease_seconds: float = Field(default=30.0, ge=2)
    shutdown_grace: float = Field(default=25.0, ge=0)
    max_tries: int = Field(default=5, ge=1, le=100)
    retry_base_delay: float = Field(default=1.0, ge=0)
    retry_max_delay: float = Field(default=60.0, ge=0)
    delete_max_attempts: int = Field(default=5, ge=1, le=100)
    migrate_max_attempts: int = Field(default=5, ge=1, le=100)
    max_requests_per_key: int = Field(default=DEFAULT_MAX_REQUESTS_PER_KEY, ge=1)
    result_ttl: float = Field(default=7 * 24 * 3600.0, gt=0)
    health_check_interval: float = Field(default=5.0, gt=0)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Job limits checked at enqueue and again by the worker
    upload_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    max_inline_bytes: int = Field(default=5 * MiB, ge=0)
    max_delete_keys: int = Field(default=1_000_000, ge=1)
    # A job's JSON; the default fits the inline cap's data (base64) and a DeleteJob of
    # max_delete_keys keys (17 MB at a million 10-character keys).
    max_payload_bytes: int = Field(default=32 * MiB, ge=1024)

    # S3
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_session_token: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    s3_max_attempts: int = Field(default=3, ge=1, le=20)
    s3_retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    s3_connect_timeout: float = Field(default=5.0, gt=0)
    s3_read_timeout: float = Field(default=60.0, gt=0)
    s3_verify: bool | str | None = None
    s3_public_urls: dict[str, str] = Field(default_factory=dict)
    s3_multipart_threshold: int = Field(default=16 * MiB, ge=5 * MiB)
    s3_multipart_chunksize: int = Field(default=8 * MiB, ge=5 * MiB)
    s3_copy_multipart_threshold: int = Field(default=5 * 1024 * MiB, ge=1)
    s3_multipart_concurrency: int = Field(default=4, ge=1, le=64)
    s3_delete_concurrency: int = Field(default=4, ge=1, le=64)
    # Bucket -> requests per second shared by every worker of the queue ("*": the default).
    s3_rate_limits: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    s3_additional_checksums: bool = True

    # Migrations and prefix deletes
    source_profiles: dict[str, SourceProfile] = Field(default_factory=dict)
    report_bucket: str | None = None
    report_prefix: str = "storage-jobs-reports/"

    # The HTTP enqueue API (served with the dashboard): producer name -> bearer token; none: off
    producer_tokens: dict[Annotated[str, Field(pattern=PRODUCER_NAME)], SecretStr] = Field(
        default_factory=dict
    )

    # Completion events (queue/_events.py): entries each stream keeps, about (0: no events);
    # webhooks (worker/_webhooks.py): every event POSTed, signed with the secret, to the URL.
    events_maxlen: int = Field(default=100_000, ge=0)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_backoff: float = Field(default=60.0, gt=0)
    # Seconds a delivery held by a worker may go untouched before another worker takes it over.
    webhook_claim_idle: float = Field(default=60.0, gt=0)

    # The dashboard
    dashboard_token: SecretStr | None = None
    dashboard_actions: bool = False
    # Host names it is served under, beside loopback ("*": any, for a mount that checks Host).
    dashboard_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Signs session cookies (default: a random secret generated once and kept in Redis).
    dashboard_secret: SecretStr | None = None
    # Proxies (addresses or networks) whose X-Forwarded-Proto/-For the dashboard believes.
    dashboard_trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("upload_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        # Like PATH: "/srv/a:/srv/b" (os.pathsep); commas work too.
        if isinstance(value, str):
            parts = value.replace(",", os.pathsep).split(os.pathsep)
            return [p for p in (part.strip() for part in parts) if p]
        return value

    @field_validator("upload_roots")
    @classmethod
    def _roots_are_absolute(cls, value: list[Path]) -> list[Path]:
        for root in value:
            if not root.is_absolute():
                raise ValueError(f"upload root must be an absolute path: {root}")
        return [root.resolve() for root in value]

    @field_validator("s3_verify", mode="before")
    @classmethod
    def _verify_words(cls, value: Any) -> Any:
        # The environment gives strings: "false" turns checks off, it names no CA bundle file.
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        return value

    @field_validator("dashboard_token")
    @classmethod
    def _token_is_long(cls, value: SecretStr | None) -> SecretStr | None:
        # A short token falls to guessing; empty means none (an open, loopback-only dashboard).
        if value is not None and 0 < len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"STORAGE_JOBS_DASHBOARD_TOKEN must be at least {MIN_TOKEN_LENGTH} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        return value

    @field_validator(
        "redis_sentinels", "dashboard_hosts", "dashboard_trusted_proxies", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("s3_rate_limits", mode="before")
    @classmethod
    def _rates_are_positive(cls, value: Any) -> Any:
        return _parse_rate_limits(value)

    @field_validator("producer_tokens")
    @classmethod
    def _producer_tokens_are_long(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # Tokens are checked once per request, so a short one could be guessed online.
        if short := sorted(
            n for n, t in value.items() if len(t.get_secret_value()) < MIN_TOKEN_LENGTH
        ):
            raise ValueError(
                f"producer tokens must be at least {MIN_TOKEN_LENGTH} characters: "
                + ", ".join(short)
            )
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("STORAGE_JOBS_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        if self.webhook_url is not None and not (
            self.webhook_secret and self.webhook_secret.get_secret_value()
        ):
            raise ValueError(
                "STORAGE_JOBS_WEBHOOK_URL needs STORAGE_JOBS_WEBHOOK_SECRET (deliveries are signed)"
            )
        if self.webhook_url is not None and self.events_maxlen == 0:
            raise ValueError("STORAGE_JOBS_WEBHOOK_URL needs events on (EVENTS_MAXLEN above 0)")
        return self

    @model_validator(mode="after")
    def _tokens_open_one_door(self) -> Settings:
        # The dashboard's token must not also open the enqueue API, nor the reverse.
        dashboard = self.dashboard_token.get_secret_value() if self.dashboard_token else ""
        if dashboard and any(
            t.get_secret_value() == dashboard for t in self.producer_tokens.values()
        ):
            raise ValueError("a producer token equals STORAGE_JOBS_DASHBOARD_TOKEN; use another")
        return self

    @model_validator(mode="after")
    def _budget_is_capped(self) -> Settings:
        worst = self.retry_budget().worst_case_requests_per_key
        if worst > self.max_requests_per_key:
            raise ValueError(
                f"retries could cost {worst} S3 requests for one key (S3_MAX_ATTEMPTS x "
                "max(DELETE_MAX_ATTEMPTS, MIGRATE_MAX_ATTEMPTS) x (MAX_TRIES + 1)), more than "
                f"STORAGE_JOBS_MAX_REQUESTS_PER_KEY={self.max_requests_per_key}"
            )
        return self

    def retry_budget(self) -> RetryBudget:
        """Every retry layer's attempts (see ``storage_jobs.jobs._retry``)."""
        return RetryBudget(
            request_attempts=self.s3_max_attempts,
            delete_attempts=self.delete_max_attempts,
            migrate_attempts=self.migrate_max_attempts,
            job_attempts=self.max_tries,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )

    def rate_limits(self) -> RateLimits:
        """The S3 request rates (empty: no limit)."""
        return RateLimits(dict(self.s3_rate_limits))

    def job_limits(self) -> JobLimits:
        """The limits a job is checked against at enqueue and before it runs."""
        return JobLimits(
            upload_roots=tuple(self.upload_roots),
            max_inline_bytes=self.max_inline_bytes,
            max_delete_keys=self.max_delete_keys,
            max_payload_bytes=self.max_payload_bytes,
        )

    @property
    def redis_url_redacted(self) -> str:
        """The Redis URL with any password replaced, safe to log."""
        return redact_url(self.redis_url.get_secret_value())

    def storage_config(self) -> StorageConfig:
        """The storage client's config, its pool sized to this worker's concurrency."""
        return StorageConfig(
            endpoint_url=self.s3_endpoint_url,
            public_urls=self.s3_public_urls,
            access_key_id=self.s3_access_key_id,
            secret_access_key=self.s3_secret_access_key,
            session_token=self.s3_session_token,
            region=self.s3_region,
            use_ssl=(self.s3_endpoint_url or "https://").startswith("https://"),
            verify=self.s3_verify,
            # Each job may run a multipart transfer or several delete batches at once.
            max_pool_connections=max(10, self.max_jobs * 4),
            connect_timeout=self.s3_connect_timeout,
            read_timeout=self.s3_read_timeout,
            max_attempts=self.s3_max_attempts,
            retry_mode=self.s3_retry_mode,
            addressing_style=self.s3_addressing_style,
            multipart_threshold=self.s3_multipart_threshold,
            multipart_chunksize=self.s3_multipart_chunksize,
            copy_multipart_threshold=self.s3_copy_multipart_threshold,
            multipart_concurrency=self.s3_multipart_concurrency,
            delete_concurrency=self.s3_delete_concurrency,
            additional_checksums=self.s3_additional_checksums,
        )


_RATES = "STORAGE_JOBS_S3_RATE_LIMITS"
_RATES_EXAMPLE = 'e.g. {"*": 100, "hot-bucket": 20}'


def _parse_rate_limits(value: Any) -> dict[str, float]:
    """``STORAGE_JOBS_S3_RATE_LIMITS`` (JSON text or a mapping) as bucket -> requests per second.

    Raises:
        ValueError: For text that is not JSON, anything but an object, a key that is not a
            non-empty string, or a rate that is not a finite number above zero.
    """
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as exc:
            raise ValueError(f"{_RATES} is not valid JSON ({exc}); {_RATES_EXAMPLE}") from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{_RATES} must be a JSON object of bucket -> requests per second; {_RATES_EXAMPLE}"
        )
    rates: dict[str, float] = {}
    for bucket, rate in value.items():
        if not isinstance(bucket, str) or not bucket:
            raise ValueError(f"{_RATES}: bucket names must be non-empty strings, got {bucket!r}")
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise ValueError(f"{_RATES}[{bucket!r}] must be a number, got {rate!r}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{_RATES}[{bucket!r}] must be above 0 requests/s, got {rate!r}")
        rates[bucket] = float(rate)
    return rates


def redact_url(url: str) -> str:
    """Returns ``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]  # keeps IPv6 brackets and the port as written
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
