"""The job limits' settings, checked at enqueue and again by the worker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from ..jobs import JobLimits

__all__ = ["LimitFields"]

MiB = 1024 * 1024


class LimitFields(BaseModel):
    """``Settings``' fields for job limits."""

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

    def job_limits(self) -> JobLimits:
        """The limits a job is checked against at enqueue and before it runs."""
        return JobLimits(
            upload_roots=tuple(self.upload_roots),
            max_inline_bytes=self.max_inline_bytes,
            max_delete_keys=self.max_delete_keys,
            max_payload_bytes=self.max_payload_bytes,
        )
