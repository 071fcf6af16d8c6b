"""The S3 client's settings, and the rate limits' parser."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from ..storage import RateLimits

__all__ = ["S3Fields"]

MiB = 1024 * 1024
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True}
_BOOL_WORDS.update({"false": False, "no": False, "off": False, "0": False})


class S3Fields(BaseModel):
    """``Settings``' fields for S3 (``S3_*``)."""

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

    @field_validator("s3_verify", mode="before")
    @classmethod
    def _verify_words(cls, value: Any) -> Any:
        # The environment gives strings: "false" turns checks off, it names no CA bundle file.
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            return _BOOL_WORDS[value.strip().lower()]
        return value

    @field_validator("s3_rate_limits", mode="before")
    @classmethod
    def _rates_are_positive(cls, value: Any) -> Any:
        return _parse_rate_limits(value)

    def rate_limits(self) -> RateLimits:
        """The S3 request rates (empty: no limit)."""
        return RateLimits(dict(self.s3_rate_limits))


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
