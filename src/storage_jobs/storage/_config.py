"""StorageConfig: everything the storage client needs to reach one S3 endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["GiB", "MiB", "StorageConfig"]

MiB = 1024 * 1024
GiB = 1024 * MiB


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_StrictModel):
    """Storage configuration.

    Secrets are ``SecretStr``: they never show in ``repr``, logs or error messages.

    Attributes:
        endpoint_url: S3 endpoint; ``None`` means AWS's regional default.
        public_urls: Bucket name -> public base URL used by ``get_url``.
        max_pool_connections: Size of the HTTP connection pool shared by every call.
        max_attempts: Total attempts per request, first one included (botocore's
            ``total_max_attempts``; its ``max_attempts`` counts retries only).
        addressing_style: ``path`` for most S3-compatible servers, ``virtual`` for AWS.
        multipart_threshold: Uploads from a path or stream at or above this size go multipart.
        multipart_chunksize: Part size for multipart uploads and copies.
        multipart_concurrency: Parts in flight per transfer. Each part lives in one reused
            buffer, so an upload holds about this x chunksize (at least the threshold's worth).
        copy_multipart_threshold: Copies of objects larger than this use ``UploadPartCopy``;
            S3 refuses ``CopyObject`` above 5 GiB.
        delete_concurrency: ``DeleteObjects`` requests in flight in one ``delete_files`` call.
        additional_checksums: Use S3's additional checksums (``x-amz-checksum-crc32c`` /
            ``-sha256``) when a job asks for a checksum: sent with uploads (the server checks
            them) and copies, read back with ``ChecksumMode``. Off for a server that rejects them;
            the worker's own hash in ``sj-<algorithm>`` metadata is written either way.
        tracing: A span per request (``tracing``; needs the ``otel`` extra), child of the
            current span.
    """

    endpoint_url: str | None = None
    public_urls: dict[str, str] = Field(default_factory=dict)
    service_name: str = "s3"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    region: str = "us-east-1"
    use_ssl: bool = True
    verify: bool | str | None = None

    max_pool_connections: int = Field(default=32, ge=1, le=1024)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    addressing_style: Literal["auto", "path", "virtual"] = "path"

    multipart_threshold: int = Field(default=16 * MiB, ge=5 * MiB)
    multipart_chunksize: int = Field(default=8 * MiB, ge=5 * MiB, le=5 * GiB)
    # 4: 1 GiB from a path went at 1.00-1.17x boto3's 10 threads with 4 parts, 0.82-0.98x with
    # 2 (bench.large_upload_sweep); the worker's peak RSS is then 130 MiB (bench large_upload).
    multipart_concurrency: int = Field(default=4, ge=1, le=64)
    copy_multipart_threshold: int = Field(default=5 * GiB, ge=1, le=5 * GiB)
    delete_concurrency: int = Field(default=4, ge=1, le=64)
    additional_checksums: bool = True
    tracing: bool = False

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("endpoint_url must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("public_urls")
    @classmethod
    def _public_urls_are_http(cls, value: dict[str, str]) -> dict[str, str]:
        for bucket, url in value.items():
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"public_urls[{bucket!r}] must start with http:// or https://")
        return {bucket: url.rstrip("/") for bucket, url in value.items()}
