"""The JSON API under ``/api/``: every answer is one of ``_answers``' pydantic models."""

from __future__ import annotations

import json

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _answers
from ._dashboard import dashboard_of
from ._detail import dead_letter_detail, detail_bytes, job_detail
from ._params import kind_param, paging, state_param, text_param

__all__ = ["SCHEMAS", "api_routes", "model_response"]

SCHEMAS: dict[str, type[BaseModel]] = {name: getattr(_answers, name) for name in _answers.__all__}
"""Every answer model by name; ``/api/schema/<name>`` serves its JSON schema."""


def model_response(model: BaseModel) -> Response:
    """A pydantic model as a JSON answer."""
    return Response(model.model_dump_json(), media_type="application/json")


async def overview(request: Request) -> Response:
    """``GET /api/overview``: counts, live workers, the last hour."""
    dashboard = dashboard_of(request)
    answer = await dashboard.reader.overview(actions_enabled=dashboard.access.actions_enabled)
    return model_response(answer)


async def jobs(request: Request) -> Response:
    """``GET /api/jobs?status=&kind=&offset=&limit=``."""
    offset, limit = paging(request)
    page = await dashboard_of(request).reader.jobs(
        state_param(request), kind_param(request), offset, limit
    )
    return model_response(page)


async def job(request: Request) -> Response:
    """``GET /api/jobs/{job_id}``: a ``JobDetail``, or an ``Unreadable`` saying why not."""
    dashboard = dashboard_of(request)
    max_bytes = detail_bytes(dashboard.settings.max_payload_bytes)
    found = await job_detail(dashboard.queue, request.path_params["job_id"], max_bytes=max_bytes)
    if found is None:
        raise HTTPException(404, "no such job")
    return model_response(found)


async def prefix_jobs(request: Request) -> Response:
    """``GET /api/migrations``: migrations and prefix deletes with progress, rate and ETA."""
    offset, limit = paging(request, default_limit=20)
    return model_response(await dashboard_of(request).reader.prefix_jobs(offset, limit))


async def dead_letters(request: Request) -> Response:
    """``GET /api/dead-letters?kind=&error_type=&offset=&limit=``."""
    offset, limit = paging(request)
    page = await dashboard_of(request).reader.dead_letters(
        kind_param(request), text_param(request, "error_type"), offset, limit
    )
    return model_response(page)


async def dead_letter(request: Request) -> Response:
    """``GET /api/dead-letters/{job_id}``: a ``DeadLetterDetail``, or an ``Unreadable``."""
    dashboard = dashboard_of(request)
    found = await dead_letter_detail(dashboard.queue, request.path_params["job_id"])
    if found is None:
        raise HTTPException(404, "no such dead letter")
    return model_response(found)


async def workers(request: Request) -> Response:
    """``GET /api/workers``."""
    return model_response(await dashboard_of(request).reader.workers())


async def schema(request: Request) -> Response:
    """``GET /api/schema/{name}``: the JSON schema of an answer model."""
    model = SCHEMAS.get(request.path_params["name"])
    if model is None:
        raise HTTPException(404, f"schemas: {', '.join(sorted(SCHEMAS))}")
    return Response(json.dumps(model.model_json_schema()), media_type="application/json")


def api_routes() -> list[Route]:
    """The API's routes."""
    return [
        Route("/api/overview", overview),
        Route("/api/jobs", jobs),
        Route("/api/jobs/{job_id:path}", job),
        Route("/api/migrations", prefix_jobs),
        Route("/api/dead-letters", dead_letters),
        Route("/api/dead-letters/{job_id:path}", dead_letter),
        Route("/api/workers", workers),
        Route("/api/schema/{name}", schema),
    ]
