"""A FastAPI app that hands S3 work to storage-jobs workers.

Two ways to get a file into S3:

- ``POST /files`` (multipart ``file``): the app enqueues an ``UploadJob`` carrying the bytes and
  answers ``202 {"job_id"}`` at once; a worker stores the object.
- Presigned upload, for files the app should never carry: ``POST /uploads/presign`` returns a
  presigned PUT URL for a staging key, the browser PUTs the bytes straight to S3, then
  ``POST /uploads/{staging_key}/complete`` enqueues a ``CopyJob`` from the staging key to the
  final key.

``GET /jobs/{job_id}`` reports any job's status and, once done, its result or error.

Configuration: ``STORAGE_JOBS_*`` (Redis, queue, S3 endpoint and keys, inline size cap) through
``Settings``; ``APP_BUCKET`` (default ``media``) names the bucket. Run it with::

    uvicorn --factory examples.fastapi_app:create_app
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field, ValidationError

from storage_jobs.client import JobFailedError, JobStatus, StorageJobsClient
from storage_jobs.jobs import CopyJob, JobRejectedError, UploadJob
from storage_jobs.settings import Settings
from storage_jobs.storage import StorageClient

STAGING_PREFIX = "staging/"
FINAL_PREFIX = "files/"
PRESIGN_EXPIRES_S = 900


@dataclass(frozen=True)
class Services:
    """What the lifespan opens once and every request shares."""

    jobs: StorageJobsClient
    storage: StorageClient
    bucket: str
    max_inline_bytes: int


class Enqueued(BaseModel):
    """A job was accepted."""

    job_id: str
    key: str


class JobView(BaseModel):
    """A job's status, and its result (JSON) or error once finished."""

    job_id: str
    status: JobStatus
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class PresignRequest(BaseModel):
    """What the browser is about to upload."""

    filename: str = Field(min_length=1, max_length=200)
    content_type: str | None = Field(default=None, max_length=255)


class Presigned(BaseModel):
    """Where and how to PUT the file."""

    staging_key: str
    url: str
    method: str = "PUT"
    headers: dict[str, str]
    expires_in: int


def create_app(settings: Settings | None = None, *, bucket: str | None = None) -> FastAPI:
    """Builds the app; ``settings`` default to the environment, ``bucket`` to ``APP_BUCKET``."""
    settings = settings or Settings()
    bucket = bucket or os.environ.get("APP_BUCKET", "media")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One producer client and one storage client (for presigning) per process.
        async with (
            StorageJobsClient(settings=settings) as jobs,
            StorageClient(settings.storage_config()) as storage,
        ):
            app.state.services = Services(jobs, storage, bucket, settings.max_inline_bytes)
            yield

    app = FastAPI(title="storage-jobs example", lifespan=lifespan)

    @app.post("/files", status_code=202)
    async def upload_file(request: Request, file: Annotated[UploadFile, File()]) -> Enqueued:
        """Enqueues an upload of the posted file; a worker stores it."""
        s = services(request)
        data = await file.read(s.max_inline_bytes + 1)
        if len(data) > s.max_inline_bytes:
            raise HTTPException(413, f"files above {s.max_inline_bytes} bytes: use a presign")
        key = f"{FINAL_PREFIX}{uuid.uuid4().hex}/{safe_name(file.filename)}"
        try:
            job = UploadJob(bucket=s.bucket, key=key, data=data, content_type=file.content_type)
            handle = await s.jobs.enqueue(job)
        except (ValidationError, JobRejectedError) as exc:
            raise HTTPException(422, str(exc)) from exc
        return Enqueued(job_id=handle.job_id, key=key)

    @app.get("/jobs/{job_id}")
    async def job_status(request: Request, job_id: str) -> JobView:
        """A job's status; its result or error once it has finished."""
        jobs = services(request).jobs
        status = await jobs.status(job_id)
        if status == JobStatus.NOT_FOUND:
            raise HTTPException(404, "no such job")
        view = JobView(job_id=job_id, status=status)
        if status in (JobStatus.COMPLETE, JobStatus.FAILED):
            try:
                result = await jobs.handle(job_id).result(timeout=1)
            except JobFailedError as exc:
                view.error = {"type": exc.error_type, "code": exc.code, "message": exc.message}
            except TimeoutError:
                pass  # failed, dead letter being written: the next poll has it
            else:
                view.result = result.model_dump(mode="json")
        return view

    @app.post("/uploads/presign")
    async def presign(request: Request, body: PresignRequest) -> Presigned:
        """A presigned PUT URL for a fresh staging key."""
        s = services(request)
        key = f"{STAGING_PREFIX}{uuid.uuid4().hex}/{safe_name(body.filename)}"
        url = await s.storage.signed_upload_url(
            bucket=s.bucket, key=key, expires_in=PRESIGN_EXPIRES_S, content_type=body.content_type
        )
        headers = {"Content-Type": body.content_type} if body.content_type else {}
        return Presigned(staging_key=key, url=url, headers=headers, expires_in=PRESIGN_EXPIRES_S)

    @app.post("/uploads/{staging_key:path}/complete", status_code=202)
    async def complete(request: Request, staging_key: str) -> Enqueued:
        """Enqueues the copy of an uploaded staging object to its final key (once per key)."""
        s = services(request)
        # Only keys this app handed out: never let a client copy arbitrary objects.
        if not re.fullmatch(rf"{STAGING_PREFIX}[0-9a-f]{{32}}/[A-Za-z0-9._-]+", staging_key):
            raise HTTPException(400, "not a staging key of this app")
        if not await s.storage.file_exists(bucket=s.bucket, key=staging_key):
            raise HTTPException(409, "nothing uploaded to this staging key yet")
        final_key = FINAL_PREFIX + staging_key.removeprefix(STAGING_PREFIX)
        job = CopyJob(src_bucket=s.bucket, src_key=staging_key, dst_key=final_key)
        # A job id derived from the key's unique part: completing twice enqueues one copy.
        upload_id = staging_key.split("/")[1]
        handle = await s.jobs.enqueue(job, job_id=f"complete-{upload_id}")
        return Enqueued(job_id=handle.job_id, key=final_key)

    return app


def services(request: Request) -> Services:
    """The lifespan's services."""
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


def safe_name(filename: str | None) -> str:
    """The last path part of a client's file name, reduced to ``[A-Za-z0-9._-]``."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base)[:200].strip(".")
    return cleaned or "file"
