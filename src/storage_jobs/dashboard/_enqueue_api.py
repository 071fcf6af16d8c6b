"""The HTTP enqueue API under ``/api/v1/``: enqueue jobs and read their status over HTTP.

For producers outside Python, or outside Redis's trust domain: they hold a bearer token.

``create_app`` puts ``ProducerRoutes`` in front of the dashboard's access rules: requests under
``/api/v1/`` go to this API, which admits producer tokens only (``_producers``); every other
request goes to the dashboard, which admits its own token only. Nothing here uses a cookie, so
a browser (or a rebound DNS name) holds no ambient credential for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import JobRejectedError, QueueUnavailableError
from ..queue import JobStatus, NewJob
from ._enqueue_answers import ApiError, BatchEnqueued, Enqueued, FieldError, JobState
from ._job_bodies import (
    MAX_BATCH_BODY,
    BodyTooLarge,
    EnqueueParams,
    InvalidBody,
    idempotent_job_id,
    parse_batch,
    parse_job,
    read_capped,
)
from ._openapi import openapi_document
from ._producers import Producers
from ._security import SECURITY_HEADERS, local_path

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from ..jobs import JobModel
    from ._dashboard import Dashboard

__all__ = ["PREFIX", "EnqueueApi", "ProducerRoutes"]

PREFIX = "/api/v1/"
"""Where the API is served (below the app's own root when it is mounted)."""

_FINISHED = (JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED)


class _Refused(Exception):
    """Answered as an ``ApiError`` with this status."""

    def __init__(self, status: int, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.answer = ApiError(detail=detail, errors=list(errors))
        self.status = status


def _json(model: BaseModel, status: int, **headers: str) -> Response:
    response = Response(
        model.model_dump_json(exclude_none=True),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class EnqueueApi:
    """The API's routes over one dashboard's settings and ``Queue``."""

    def __init__(self, dashboard: Dashboard) -> None:
        """Builds the API; with no producer token configured, every route answers 404."""
        self.dashboard = dashboard
        self.settings = dashboard.settings
        self.producers = Producers.build(self.settings.producer_tokens)
        self.limits = self.settings.job_limits()
        self.log = dashboard.log.bind(api="enqueue")
        routes = [
            Route(f"{PREFIX}openapi.json", self._guarded(self.openapi, False), methods=["GET"]),
            Route(f"{PREFIX}jobs", self._guarded(self.enqueue_one), methods=["POST"]),
            Route(f"{PREFIX}jobs:batch", self._guarded(self.enqueue_batch), methods=["POST"]),
            Route(f"{PREFIX}jobs/{{job_id:path}}", self._guarded(self.job), methods=["GET"]),
        ]
        self.app = Starlette(routes=routes, exception_handlers={HTTPException: self._http_error})

    def _guarded(self, handler: Any, token: bool = True) -> Any:
        """The handler behind the API's switch and (when ``token``) a producer token."""

        async def endpoint(request: Request) -> Response:
            try:
                if not self.producers.enabled:
                    raise _Refused(404, "the HTTP enqueue API is off (no producer tokens)")
                if token:
                    request.state.producer = self._producer(request)
                    await self._open()
                response: Response = await handler(request)
                return response
            except _Refused as refused:
                extra = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else {}
                return _json(refused.answer, refused.status, **extra)

        return endpoint

    async def _open(self) -> None:
        """Opens the dashboard's queue (the dashboard's ``QueueOpening`` does not run here)."""
        try:
            await self.dashboard.open()
        except (RedisError, OSError) as exc:
            raise _Refused(503, f"Redis is unavailable ({type(exc).__name__})") from None

    async def _http_error(self, _: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "error"
        if not self.producers.enabled:  # off: the API's paths are not there at all
            status, detail = 404, "the HTTP enqueue API is off (no producer tokens)"
        return _json(ApiError(detail=str(detail)), status)

    def _producer(self, request: Request) -> str:
        producer = self.producers.producer(request.headers)
        if producer is None:
            client = request.client.host if request.client else None
            self.log.warning("api.auth_failed", client=client, path=local_path(request))
            raise _Refused(401, "a producer token is required (Authorization: Bearer <token>)")
        return producer

    async def openapi(self, request: Request) -> Response:
        """``GET /api/v1/openapi.json``: the API's OpenAPI 3.1 document (no token needed)."""
        root = request.scope.get("root_path", "")
        document = openapi_document(root + PREFIX.rstrip("/"))
        return Response(json.dumps(document), media_type="application/json")

    async def enqueue_one(self, request: Request) -> Response:
        """``POST /api/v1/jobs``: one job; 202 with its id."""
        params, key = _params(request), _idempotency_key(request)
        body = await self._body(request, self.settings.max_payload_bytes)
        job = self._checked([_parsed(parse_job, body)], batch=False)[0]
        producer: str = request.state.producer
        queue = self.settings.queue_name
        job_id = None if key is None else idempotent_job_id(queue, producer, key)
        (answer,) = await self._enqueue(request, [job], [job_id], params)
        return _json(answer, 202)

    async def enqueue_batch(self, request: Request) -> Response:
        """``POST /api/v1/jobs:batch``: up to 1,000 jobs, all enqueued or none; 202."""
        params, key = _params(request), _idempotency_key(request)
        cap = max(MAX_BATCH_BODY, self.settings.max_payload_bytes)
        body = await self._body(request, cap)
        jobs = _parsed(parse_batch, body)
        if len(body) > self.settings.max_payload_bytes:  # else no job in it can be over the cap
            self._each_under_cap(jobs)
        self._checked(jobs, batch=True)
        producer: str = request.state.producer
        queue = self.settings.queue_name
        ids = [
            None if key is None else idempotent_job_id(queue, producer, key, i)
            for i in range(len(jobs))
        ]
        answers = await self._enqueue(request, jobs, ids, params)
        return _json(BatchEnqueued(jobs=answers), 202)

    async def job(self, request: Request) -> Response:
        """``GET /api/v1/jobs/{job_id}``: its status, and its result or error once finished."""
        job_id: str = request.path_params["job_id"]
        queue = self.dashboard.queue
        try:
            status = await queue.status(job_id)
            outcome = await queue.result(job_id) if status in _FINISHED else None
        except (RedisError, OSError) as exc:
            raise _Refused(503, f"Redis is unavailable ({type(exc).__name__})") from None
        state = JobState(job_id=job_id, status=status)
        if outcome is not None and outcome.success:
            value = outcome.value
            state = state.model_copy(update={"result": value if isinstance(value, dict) else {}})
        elif outcome is not None:
            state = state.model_copy(update={"error": outcome.error})
        return _json(state, 404 if status == JobStatus.NOT_FOUND else 200)

    async def _body(self, request: Request, cap: int) -> bytes:
        try:
            return await read_capped(request, cap)
        except BodyTooLarge as exc:
            raise _Refused(413, f"{exc} (STORAGE_JOBS_MAX_PAYLOAD_BYTES)") from None

    def _each_under_cap(self, jobs: Sequence[JobModel]) -> None:
        cap = self.settings.max_payload_bytes
        for i, job in enumerate(jobs):
            if len(job.model_dump_json()) > cap:
                error = FieldError(loc=["jobs", i], msg=f"over {cap} bytes", type="too_large")
                raise _Refused(413, f"job {i} is over {cap} bytes", [error])

    def _checked(self, jobs: list[JobModel], *, batch: bool) -> list[JobModel]:
        """The jobs, once each is within the configured limits (inline bytes, keys, paths)."""
        for i, job in enumerate(jobs):
            try:
                self.limits.check(job)
            except JobRejectedError as exc:
                loc: list[str | int] = ["jobs", i, exc.field] if batch else [exc.field]
                error = FieldError(loc=loc, msg=str(exc), type="limit")
                raise _Refused(422, "the job breaks a configured limit", [error]) from None
        return jobs

    async def _enqueue(
        self,
        request: Request,
        jobs: Sequence[JobModel],
        ids: Sequence[str | None],
        params: EnqueueParams,
    ) -> list[Enqueued]:
        items = [
            NewJob(job, i, params.defer_by, params.priority, expires=params.expires)
            for job, i in zip(jobs, ids, strict=True)
        ]
        queue = self.dashboard.queue
        try:
            # Limits were checked above, job by job, to name the one that broke them.
            if queue.tracer is None:
                written = await queue.enqueue_many(items)
            else:
                # A producer's ``traceparent`` header: the enqueue's span is its child.
                with queue.tracer.parent(request.headers):
                    written = await queue.enqueue_many(items)
        except QueueUnavailableError as exc:
            self.log.error("api.enqueue_failed", reason=exc.reason, enqueued=len(exc.enqueued))
            raise _Refused(503, f"the queue refused the jobs: {exc.reason}") from None
        except (RedisError, OSError) as exc:
            raise _Refused(503, f"Redis is unavailable ({type(exc).__name__})") from None
        root = request.scope.get("root_path", "")
        answers = [
            Enqueued(job_id=i, enqueued=ok, status_url=f"{root}{PREFIX}jobs/{quote(i, safe='')}")
            for i, ok in written
        ]
        self.log.info(
            "api.enqueued",
            producer=request.state.producer,
            jobs=len(answers),
            enqueued=sum(a.enqueued for a in answers),
        )
        return answers


def _parsed(parse: Any, body: bytes) -> Any:
    try:
        return parse(body)
    except InvalidBody as exc:
        raise _Refused(422, "the body is not a valid job", exc.errors) from None


def _params(request: Request) -> EnqueueParams:
    try:
        return EnqueueParams.model_validate(
            {k: v for k, v in request.query_params.items() if k in EnqueueParams.model_fields}
        )
    except ValidationError as exc:
        errors = [
            FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"])
            for e in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
        raise _Refused(422, "invalid query parameter", errors) from None


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not all(" " <= c <= "~" for c in key):
        error = FieldError(
            loc=["Idempotency-Key"], msg="1 to 255 printable ASCII characters", type="value_error"
        )
        raise _Refused(422, "invalid Idempotency-Key header", [error])
    return key


class ProducerRoutes:
    """ASGI middleware: requests under ``/api/v1/`` go to the enqueue API, the rest on."""

    def __init__(self, app: ASGIApp, api: EnqueueApi) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and local_path(Request(scope)).startswith(PREFIX):
            await self.api.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)
