"""The enqueue API's OpenAPI document: valid OpenAPI 3.1, and the API keeps to it (schemathesis).

A property-based run against a served app on real Redis: every operation, valid and invalid
inputs, a few examples each (seconds, not minutes). No answer may be a 500 or differ from the
document (status code, content type, body schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from storage_jobs.settings import Settings

from .conftest import DashboardServer
from .test_enqueue_api import BEARER, BILLING, WEB

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def served(e2e_redis_url: str, queue_name: str) -> Iterator[DashboardServer]:
    """The app under uvicorn on this test's queue, with producer tokens."""
    server = DashboardServer(
        Settings(
            redis_url=e2e_redis_url,
            queue_name=queue_name,
            producer_tokens={"web": WEB, "billing": BILLING},
            max_payload_bytes=4096,
        )
    ).start()
    yield server
    server.stop()


def test_the_document_is_valid_openapi(served: DashboardServer) -> None:
    document = httpx.get(f"{served.url}/api/v1/openapi.json").json()
    validate(document)  # raises on anything OpenAPI 3.1 does not allow
    assert set(document["paths"]) == {
        "/api/v1/jobs",
        "/api/v1/jobs:batch",
        "/api/v1/jobs/{job_id}",
    }
    schemas = document["components"]["schemas"]
    kinds = schemas["Job"]["discriminator"]["mapping"]
    assert set(kinds) == {"upload", "copy", "delete", "migrate", "delete_prefix", "verify"}
    for ref in kinds.values():  # a body is told apart by its kind: it is required
        assert "kind" in schemas[ref.rsplit("/", 1)[-1]]["required"]


def test_the_api_keeps_to_its_document(served: DashboardServer) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 3
    seen: set[tuple[str, int]] = set()
    for operation in operations:
        # The documented examples (valid jobs, so 202s), then generated valid and invalid input.
        cases = st.one_of(
            *operation.get_strategies_from_examples(),
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=10,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def run(case: schemathesis.Case[Any]) -> None:
            response = case.call_and_validate(
                base_url=served.url, headers=BEARER, checks=CHECKS, timeout=10
            )
            seen.add((case.operation.label, response.status_code))

        run()
    # The run reached past the front door: jobs were taken and invalid ones named.
    codes = {code for _, code in seen}
    assert 202 in codes and 422 in codes, seen
