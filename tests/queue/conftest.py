"""Fixtures of the queue's Redis-side tests."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> str:
    """A queue of this test's own, named after its module."""
    return f"{request.module.__name__.rsplit('_', 1)[-1]}-{uuid.uuid4().hex[:10]}"
