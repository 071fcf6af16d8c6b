"""Query parameters shared by the pages and the API, checked once."""

from __future__ import annotations

from typing import get_args

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..jobs import CATALOG
from ..queue import ListedState

__all__ = ["KINDS", "MAX_LIMIT", "STATES", "kind_param", "paging", "state_param", "text_param"]

MAX_LIMIT = 500
STATES: tuple[str, ...] = get_args(ListedState)
KINDS: tuple[str, ...] = tuple(spec.kind for spec in CATALOG)


def paging(request: Request, default_limit: int = 50) -> tuple[int, int]:
    """``offset`` and ``limit`` (at most ``MAX_LIMIT``)."""
    try:
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", default_limit))
    except ValueError:
        raise HTTPException(400, "offset and limit are integers") from None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise HTTPException(400, f"offset >= 0 and 1 <= limit <= {MAX_LIMIT}")
    return offset, limit


def state_param(request: Request) -> ListedState:
    """``status``: one of the listed states (default ``queued``)."""
    value = request.query_params.get("status") or "queued"
    if value not in STATES:
        raise HTTPException(400, f"status is one of {', '.join(STATES)}")
    return value  # type: ignore[return-value]


def kind_param(request: Request) -> str | None:
    """``kind``: a job kind, or None for every kind."""
    value = request.query_params.get("kind") or None
    if value is not None and value not in KINDS:
        raise HTTPException(400, f"kind is one of {', '.join(KINDS)}")
    return value


def text_param(request: Request, name: str) -> str | None:
    """A short free-text parameter, or None when empty."""
    value = (request.query_params.get(name) or "").strip()
    return value[:200] or None
