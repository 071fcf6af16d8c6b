"""The completion events' and webhooks' settings."""

from __future__ import annotations

from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

__all__ = ["EventFields"]


class EventFields(BaseModel):
    """``Settings``' fields for completion events and webhooks."""

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

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("STORAGE_JOBS_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Self:
        if self.webhook_url is not None and not (
            self.webhook_secret and self.webhook_secret.get_secret_value()
        ):
            raise ValueError(
                "STORAGE_JOBS_WEBHOOK_URL needs STORAGE_JOBS_WEBHOOK_SECRET (deliveries are signed)"
            )
        if self.webhook_url is not None and self.events_maxlen == 0:
            raise ValueError("STORAGE_JOBS_WEBHOOK_URL needs events on (EVENTS_MAXLEN above 0)")
        return self
