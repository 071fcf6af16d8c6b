"""The HTTP enqueue API's OpenAPI 3.1 document, built from the pydantic models' JSON schemas.

The request and answer models are the ones the routes validate and answer with, so the document
cannot drift from them; ``tests/dashboard/test_enqueue_openapi.py`` runs schemathesis against it.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter

from ..jobs import CopyJob
from ..queue import LANES
from ._enqueue_answers import ApiError, BatchEnqueued, Enqueued, JobState
from ._job_bodies import MAX_BATCH_JOBS, MAX_DEFER_S, AcceptedJob, JobBatch

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"

_MODELS: list[tuple[str, Any]] = [
    ("Job", AcceptedJob),
    ("JobBatch", JobBatch),
    ("Enqueued", Enqueued),
    ("BatchEnqueued", BatchEnqueued),
    ("JobState", JobState),
    ("ApiError", ApiError),
]


@functools.cache
def _schemas() -> dict[str, Any]:
    """Every model's schema, and the models they refer to, as ``components.schemas``."""
    inputs = [
        (name, "validation" if name.startswith("Job") and name != "JobState" else "serialization")
        for name, _ in _MODELS
    ]
    adapters = [(n, m, TypeAdapter(t)) for (n, m), (_, t) in zip(inputs, _MODELS, strict=True)]
    by_key, defs = TypeAdapter.json_schemas(adapters, ref_template=_REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    for (name, _), schema in by_key.items():
        schemas.setdefault(name, schema)
    # ``kind`` has a default in Python, but a body is told apart by it: here it is required.
    for kind, ref in schemas["Job"]["discriminator"]["mapping"].items():
        model = schemas[ref.rsplit("/", 1)[-1]]
        model["required"] = ["kind", *[f for f in model.get("required", []) if f != "kind"]]
        model["properties"]["kind"].pop("default", None)
        assert model["properties"]["kind"]["const"] == kind
    return schemas


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _answer(description: str, *names: str) -> dict[str, Any]:
    schema = _ref(names[0]) if len(names) == 1 else {"anyOf": [_ref(n) for n in names]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REFUSED = {
    "401": _answer("No producer token, or a wrong one.", "ApiError"),
    "404": _answer("The API is off (no STORAGE_JOBS_PRODUCER_TOKENS).", "ApiError"),
    "413": _answer("The body is over its byte cap.", "ApiError"),
    "422": _answer("An invalid job, parameter or header; ``errors`` name the fields.", "ApiError"),
    "503": _answer("Redis refused or is unreachable; nothing is lost by retrying.", "ApiError"),
}

_PARAMETERS = [
    {
        "name": "priority",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(LANES)},
    },
    {
        "name": "defer_by",
        "in": "query",
        "required": False,
        "description": "Seconds before the job may run.",
        "schema": {"type": "number", "minimum": 0, "maximum": MAX_DEFER_S},
    },
    {
        "name": "expires",
        "in": "query",
        "required": False,
        "description": "Seconds from now: a job not started by then never runs (status "
        "``expired``). More than ``defer_by``.",
        "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DEFER_S},
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "The same key (per producer) enqueues the same job once.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    },
]


_EXAMPLE = CopyJob(src_bucket="media", src_key="in/a.jpg", dst_key="out/a.jpg").model_dump(
    mode="json"
)
"""A job as ``model_dump_json()`` writes it: the example of both POSTs' bodies."""

_EXAMPLES = {"Job": _EXAMPLE, "JobBatch": {"jobs": [_EXAMPLE]}}


def _enqueue(summary: str, body: str, answer: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"producerToken": []}],
            "parameters": _PARAMETERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(body), "example": _EXAMPLES[body]}},
            },
            "responses": {"202": _answer("Taken.", answer), **_REFUSED},
        }
    }


def openapi_document(base: str) -> dict[str, Any]:
    """The document, its paths under ``base`` (``/api/v1``, after any mount prefix)."""
    status = {
        "get": {
            "summary": "A job's status, and its result or error once finished.",
            "security": [{"producerToken": []}],
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": _answer("The job.", "JobState"),
                "401": _REFUSED["401"],
                "404": _answer(
                    "No such job (``status: not_found``), or the API is off.",
                    "JobState",
                    "ApiError",
                ),
                "503": _REFUSED["503"],
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "storage-jobs HTTP enqueue API",
            "version": "1",
            "description": "Enqueue storage jobs and read their status with a producer token.",
        },
        "paths": {
            f"{base}/jobs": _enqueue("Enqueue one job.", "Job", "Enqueued"),
            f"{base}/jobs:batch": _enqueue(
                f"Enqueue up to {MAX_BATCH_JOBS:,} jobs, all or none.", "JobBatch", "BatchEnqueued"
            ),
            f"{base}/jobs/{{job_id}}": status,
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"producerToken": {"type": "http", "scheme": "bearer"}},
        },
    }
