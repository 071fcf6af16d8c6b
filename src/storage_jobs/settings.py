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

    # The worker
    max_jobs: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Jobs a worker runs at once (its S3 connection pool is sized from it).",
    )
    # Free slots bulk jobs (prefix jobs' batches) leave to high and normal work, which then starts
    # at once; one bulk job may run whatever this says.
    reserved_slots: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="Free slots of each worker that bulk jobs (prefix jobs' batches) leave to "
        "`high` and `normal` jobs, so those start without waiting for a batch to end; one "
        "bulk job may run whatever this says (`0`: no reserve).",
    )
    # Seconds an idle worker blocks on the wake list at most: what a job written without a wake
    # token (a plain arq producer's) waits; lower costs Redis one claim per wait.
    idle_wait_max: float = Field(
        default=5.0,
        ge=0.1,
        le=60,
        description="Seconds an idle worker blocks on the wake list at most before it claims "
        "again (it wakes at once for every enqueued job): what a job written without a wake "
        "token, by a plain arq producer, waits. Lower costs Redis about 8 commands per wait.",
    )
    job_timeout: float = Field(
        default=3600.0, gt=0, description="Seconds a job may run before it is cancelled."
    )
    lease_seconds: float = Field(
        default=30.0,
        ge=2,
        description="The lease a worker renews while it runs a job; when a worker dies, "
        "another takes its jobs once their leases lapse.",
    )
    shutdown_grace: float = Field(
        default=25.0,
        ge=0,
        description="Seconds running jobs get after SIGTERM; what still runs then goes back "
        "on the queue.",
    )
    max_tries: int = Field(
        default=5, ge=1, le=100, description="Attempts per job for transient failures."
    )
    retry_base_delay: float = Field(
        default=1.0, ge=0, description="First backoff (seconds) before a job's retry."
    )
    retry_max_delay: float = Field(
        default=60.0, ge=0, description="Longest backoff (seconds) between a job's retries."
    )
    delete_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Attempts per key in a bulk delete."
    )
    migrate_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Copy attempts per object in a migration batch (an attempt is a HEAD and "
        "a copy, at least).",
    )
    max_requests_per_key: int = Field(
        default=DEFAULT_MAX_REQUESTS_PER_KEY,
        ge=1,
        description="Settings whose retries could cost one key more S3 requests than this "
        "(`S3_MAX_ATTEMPTS` x per-key attempts x (`MAX_TRIES` + 1)) are refused.",
    )
    result_ttl: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="Seconds results are kept (a queued job's payload lives at least 7 days, "
        "however low this is, so a backlog shorter than that never expires a job).",
    )
    health_check_interval: float = Field(
        default=5.0, gt=0, description="Seconds between a worker's heartbeats."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the worker's Prometheus endpoint (`0`: any free port; unset: off).",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="`json`, `console`, or `auto` (JSON when not writing to a terminal).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log lines written."
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans (the ``otel`` extra): each enqueue, each job's run as "
        "the enqueue's child, each S3 request as the job's child. Off: nothing is imported.",
    )

    # Job limits checked at enqueue and again by the worker
    upload_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="`/srv/a:/srv/b` (or commas): the only places `UploadJob.path` may read; "
        "none: no path uploads.",
    )
    max_inline_bytes: int = Field(
        default=5 * MiB, ge=0, description="Cap on `UploadJob.data` (bytes)."
    )
    max_delete_keys: int = Field(
        default=1_000_000, ge=1, description="Cap on the keys of one `DeleteJob`."
    )
    # A job's JSON; the default fits the inline cap's data (base64) and a DeleteJob of
    # max_delete_keys keys (17 MB at a million 10-character keys).
    max_payload_bytes: int = Field(
        default=32 * MiB,
        ge=1024,
        description="Cap on a job's JSON (fits a `DeleteJob` of a million keys): refused at "
        "enqueue with `JobRejectedError`, by the HTTP enqueue API with 413; a larger stored one "
        "is failed by the worker and dead-lettered.",
    )

    # S3
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint URL (unset: AWS).")
    s3_access_key_id: str | None = Field(default=None, description="S3 access key id.")
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="S3 secret access key (never logged)."
    )
    s3_session_token: SecretStr | None = Field(
        default=None, description="S3 session token, for temporary credentials (never logged)."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="path",
        description="`path` for S3-compatible servers, `virtual` for AWS, `auto`: botocore "
        "decides.",
    )
    s3_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="botocore's attempts per request (the first included).",
    )
    s3_retry_mode: Literal["standard", "adaptive", "legacy"] = Field(
        default="standard", description="botocore's retry mode."
    )
    s3_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect to S3.")
    s3_read_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for S3's answer."
    )
    s3_verify: bool | str | None = Field(
        default=None,
        description="TLS certificate checks for `https://` endpoints: a CA bundle path (a "
        "private CA), or `false` to skip them (unset: the system's CAs).",
    )
    s3_public_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: bucket -> public base URL, for `get_url`.",
    )
    s3_multipart_threshold: int = Field(
        default=16 * MiB, ge=5 * MiB, description="Uploads above this (bytes) go multipart."
    )
    s3_multipart_chunksize: int = Field(
        default=8 * MiB, ge=5 * MiB, description="Part size (bytes) of multipart uploads."
    )
    s3_copy_multipart_threshold: int = Field(
        default=5 * 1024 * MiB,
        ge=1,
        description="Copies above this (bytes) use `UploadPartCopy`.",
    )
    s3_multipart_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Parts in flight per transfer; each holds one part-sized buffer, reused "
        "(an upload's memory: about this x the chunk size, at least the threshold).",
    )
    s3_delete_concurrency: int = Field(
        default=4, ge=1, le=64, description="`DeleteObjects` requests in flight per job."
    )
    # Bucket -> requests per second shared by every worker of the queue ("*": the default).
    s3_rate_limits: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict,
        description="JSON: bucket -> requests per second, shared by every worker of the queue "
        'through Redis; `"*"` is the limit of buckets not named (none: no limit). Bad JSON, a '
        "rate <= 0 or a key that is not a non-empty string stops the worker at startup.",
    )
    s3_additional_checksums: bool = Field(
        default=True,
        description="Send and read S3's additional checksums (`x-amz-checksum-*`) for jobs "
        "with `checksum`; `false` for a server that rejects them (`sj-*` metadata is written "
        "either way).",
    )

    # Migrations and prefix deletes
    source_profiles: dict[str, SourceProfile] = Field(
        default_factory=dict,
        description="JSON: name -> `{endpoint_url, access_key_id, secret_access_key, "
        "session_token, region, addressing_style}`: other endpoints migrations may copy from "
        "(`MigrateJob.src_endpoint` names one; no secret travels in a job).",
    )
    report_bucket: str | None = Field(
        default=None,
        description="Bucket of completion reports (unset: the job's destination bucket).",
    )
    report_prefix: str = Field(
        default="storage-jobs-reports/", description="Key prefix of completion reports."
    )

    # The HTTP enqueue API (served with the dashboard): producer name -> bearer token; none: off
    producer_tokens: dict[Annotated[str, Field(pattern=PRODUCER_NAME)], SecretStr] = Field(
        default_factory=dict,
        description="JSON: producer name -> bearer token (16+ characters) for the HTTP "
        "enqueue API; none: the API is off.",
    )

    # Completion events (queue/_events.py); webhooks (worker/_webhooks.py).
    events_maxlen: int = Field(
        default=100_000,
        ge=0,
        description="Completion events each shard's stream keeps, about (`XADD MAXLEN ~`; "
        "about 420 bytes each); 0: no events (and no webhooks).",
    )
    webhook_url: str | None = Field(
        default=None,
        description="An http(s) URL every completion event is POSTed to, signed with "
        "`webhook_secret` (required with it); none: no webhooks.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The HMAC-SHA256 key of the `X-Storage-Jobs-Signature` header.",
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one webhook POST may take."
    )
    webhook_max_backoff: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between retries of a refused delivery, at most (the backoff "
        "doubles up to it).",
    )
    webhook_claim_idle: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a delivery held by a worker may go untouched before another "
        "worker takes it over (a dead worker's deliveries).",
    )

    # The dashboard
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="Dashboard login and bearer token, 16+ characters; required to listen on "
        "an address other than loopback.",
    )
    dashboard_actions: bool = Field(
        default=False,
        description="Let the dashboard act: replay and drop dead letters, cancel jobs, pause, "
        "resume and cancel prefix jobs, pause and resume the queue.",
    )
    # Host names it is served under, beside loopback ("*": any, for a mount that checks Host).
    dashboard_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`jobs.example.com,...`: Host names the dashboard answers under, beside "
        "loopback names and `--host` (`*`: any, for a mount whose host app checks Host).",
    )
    # Signs session cookies (default: a random secret generated once and kept in Redis).
    dashboard_secret: SecretStr | None = Field(
        default=None,
        description="Signs session cookies (unset: a random secret generated once and kept "
        "in Redis; never derived from the token).",
    )
    # Proxies (addresses or networks) whose X-Forwarded-Proto/-For the dashboard believes.
    dashboard_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="`10.0.0.0/8,...`: proxies whose `X-Forwarded-Proto` / `-For` the "
        "dashboard believes (`Secure` cookies behind TLS, the client's address).",
    )

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
            tracing=self.tracing,
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
