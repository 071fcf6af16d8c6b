"""Settings: every knob, read once from ``STORAGE_JOBS_*`` environment variables."""

from __future__ import annotations

from typing import Any, Self

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..jobs._retry import RetryBudget
from ..storage import StorageConfig
from ._dashboard_fields import DashboardFields
from ._event_fields import EventFields
from ._limit_fields import LimitFields
from ._migration_fields import MigrationFields
from ._producer_fields import ProducerFields
from ._redis_fields import RedisFields
from ._s3_fields import S3Fields
from ._worker_fields import WorkerFields

__all__ = ["Settings"]


# pydantic takes the fields of the last base first: the field groups are listed last to first,
# so ``Settings.model_fields`` (and the settings page) keep the order Redis, worker, ... dashboard.
class Settings(
    DashboardFields,
    EventFields,
    ProducerFields,
    MigrationFields,
    S3Fields,
    LimitFields,
    WorkerFields,
    RedisFields,
    BaseSettings,
):
    """All configuration; build it once (``Settings()``) and pass it down.

    Every field reads from ``STORAGE_JOBS_<FIELD>``; ``S3_*`` fields configure the storage client.
    """

    # hide_input_in_errors: a refused value may be a secret (a short token, a URL with a password).
    model_config = SettingsConfigDict(
        env_prefix="STORAGE_JOBS_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # Comma lists of Redis' and the dashboard's groups.
    @field_validator(
        "redis_sentinels", "dashboard_hosts", "dashboard_trusted_proxies", mode="before"
    )
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @model_validator(mode="after")
    def _tokens_open_one_door(self) -> Self:
        # The dashboard's token must not also open the enqueue API, nor the reverse.
        dashboard = self.dashboard_token.get_secret_value() if self.dashboard_token else ""
        if dashboard and any(
            t.get_secret_value() == dashboard for t in self.producer_tokens.values()
        ):
            raise ValueError("a producer token equals STORAGE_JOBS_DASHBOARD_TOKEN; use another")
        return self

    @model_validator(mode="after")
    def _budget_is_capped(self) -> Self:
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
