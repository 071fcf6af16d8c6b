"""The settings of migrations and prefix deletes, and the source profiles migrations copy from."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..storage import StorageConfig

__all__ = ["MigrationFields", "SourceProfile"]


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


class MigrationFields(BaseModel):
    """``Settings``' fields for migrations and prefix deletes."""

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
