"""Limits that depend on settings: checked at enqueue and again before a job runs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from ..errors import JobRejectedError
from ._models import DeleteJob, UploadJob

__all__ = ["JobLimits", "JobRejectedError"]


@dataclass(frozen=True)
class JobLimits:
    """The configured limits a job must respect.

    Attributes:
        upload_roots: Directories an UploadJob's ``path`` must resolve inside.
        max_inline_bytes: Cap on an UploadJob's inline ``data``.
        max_delete_keys: Cap on a DeleteJob's key count.
        max_payload_bytes: Cap on any job's JSON, the payload stored in Redis.
    """

    upload_roots: Sequence[Path] = field(default_factory=tuple)
    max_inline_bytes: int = 5 * 1024 * 1024
    max_delete_keys: int = 1_000_000
    max_payload_bytes: int = 32 * 1024 * 1024

    def check(self, job: BaseModel, *, payload_bytes: int | None = None) -> None:
        """Raises JobRejectedError if the job breaks a limit.

        Args:
            job: The job.
            payload_bytes: Its JSON's size when known (the worker has the stored payload);
                measured from the job otherwise.

        Raises:
            JobRejectedError: Naming the field and the limit.
        """
        if payload_bytes is None:
            payload_bytes = len(type(job).__pydantic_serializer__.to_json(job))
        if payload_bytes > self.max_payload_bytes:
            raise JobRejectedError(
                "payload",
                f"the job's JSON is {payload_bytes} bytes, over the {self.max_payload_bytes} "
                "byte cap (STORAGE_JOBS_MAX_PAYLOAD_BYTES); split the job",
            )
        if isinstance(job, UploadJob):
            if job.data is not None and len(job.data) > self.max_inline_bytes:
                raise JobRejectedError(
                    "data",
                    f"inline data is {len(job.data)} bytes, over the {self.max_inline_bytes} "
                    "byte cap (STORAGE_JOBS_MAX_INLINE_BYTES); upload from a path instead",
                )
            if job.path is not None:
                self.resolve_upload_path(job.path)
        elif isinstance(job, DeleteJob) and len(job.keys) > self.max_delete_keys:
            raise JobRejectedError(
                "keys",
                f"{len(job.keys)} keys, over the {self.max_delete_keys} key cap "
                "(STORAGE_JOBS_MAX_DELETE_KEYS); split the job or delete by prefix",
            )

    def resolve_upload_path(self, path: str) -> Path:
        """Resolves ``path`` (symlinks included) and checks it lies inside an upload root.

        Raises:
            JobRejectedError: If no root is configured, or the path escapes every root, or it is
                not a regular file.
        """
        if not self.upload_roots:
            raise JobRejectedError(
                "path", "uploads from paths are disabled: set STORAGE_JOBS_UPLOAD_ROOTS"
            )
        resolved = Path(os.path.realpath(path))
        if not any(resolved.is_relative_to(root) for root in self.upload_roots):
            raise JobRejectedError("path", f"{path} is outside the configured upload roots")
        if not resolved.is_file():
            raise JobRejectedError("path", f"{path} is not a regular file")
        return resolved
