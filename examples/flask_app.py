"""Flask (no event loop) enqueueing storage jobs through ``SyncStorageJobsClient``.

Run it with ``flask --app examples.flask_app:create_app run``; configuration as for the FastAPI
example (``STORAGE_JOBS_*``, ``APP_BUCKET``).
"""

from __future__ import annotations

import atexit
import os
import uuid
from typing import Any

from flask import Flask, abort, request
from pydantic import ValidationError

from storage_jobs.client import JobFailedError, JobStatus, SyncStorageJobsClient
from storage_jobs.jobs import DeleteJob, JobRejectedError, UploadJob
from storage_jobs.settings import Settings


def create_app(settings: Settings | None = None, *, bucket: str | None = None) -> Flask:
    """Builds the app with one client for the process (it is thread-safe)."""
    settings = settings or Settings()
    bucket = bucket or os.environ.get("APP_BUCKET", "media")
    jobs = SyncStorageJobsClient(settings=settings)
    atexit.register(jobs.close)

    app = Flask(__name__)
    app.extensions["storage_jobs"] = jobs

    @app.post("/files")
    def upload_file() -> tuple[dict[str, Any], int]:
        """Enqueues an upload of the posted file (multipart ``file``); 202 with the job id."""
        file = request.files.get("file")
        if file is None:
            abort(400, "a multipart 'file' field is required")
        data = file.read(settings.max_inline_bytes + 1)
        if len(data) > settings.max_inline_bytes:
            abort(413)
        key = f"files/{uuid.uuid4().hex}"
        try:
            handle = jobs.enqueue(
                UploadJob(bucket=bucket, key=key, data=data, content_type=file.mimetype)
            )
        except (ValidationError, JobRejectedError) as exc:
            abort(422, str(exc))
        return {"job_id": handle.job_id, "key": key}, 202

    @app.delete("/files")
    def delete_files() -> tuple[dict[str, Any], int]:
        """Enqueues a bulk delete of the JSON body's ``keys``."""
        keys = (request.get_json(silent=True) or {}).get("keys")
        if not isinstance(keys, list) or not keys:
            abort(400, "a JSON body with a non-empty 'keys' list is required")
        try:
            handle = jobs.enqueue(DeleteJob(bucket=bucket, keys=keys))
        except (ValidationError, JobRejectedError) as exc:
            abort(422, str(exc))
        return {"job_id": handle.job_id}, 202

    @app.get("/jobs/<job_id>")
    def job_status(job_id: str) -> dict[str, Any]:
        """A job's status; its result or error once finished."""
        handle = jobs.handle(job_id)
        status = handle.status()
        if status == JobStatus.NOT_FOUND:
            abort(404)
        body: dict[str, Any] = {"job_id": job_id, "status": status.value}
        if status in (JobStatus.COMPLETE, JobStatus.FAILED):
            try:
                body["result"] = handle.result(timeout=1).model_dump(mode="json")
            except JobFailedError as exc:
                body["error"] = {"type": exc.error_type, "code": exc.code, "message": exc.message}
            except TimeoutError:
                pass
        return body

    return app
