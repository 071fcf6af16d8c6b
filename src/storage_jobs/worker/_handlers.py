"""The handler of each catalogued job kind: the one map only the worker imports.

Kept apart from the catalog so producers, which need names and models only, never import the
handlers' S3 stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from ..jobs import CATALOG, JobContext, JobSpec
from ..jobs._copy import run_copy
from ..jobs._delete import run_delete
from ..jobs._delete_prefix import run_delete_prefix, run_delete_prefix_batch
from ..jobs._migrate import run_migrate, run_migrate_batch
from ..jobs._upload import run_upload
from ..jobs._verify import run_verify, run_verify_batch

__all__ = ["HANDLERS", "Handler", "handler_for"]

Handler = Callable[[Any, JobContext], Awaitable[BaseModel]]
"""``async (job, ctx) -> result``."""

HANDLERS: Mapping[str, Handler] = {
    "upload": run_upload,
    "copy": run_copy,
    "delete": run_delete,
    "migrate": run_migrate,
    "delete_prefix": run_delete_prefix,
    "migrate_batch": run_migrate_batch,
    "delete_prefix_batch": run_delete_prefix_batch,
    "verify": run_verify,
    "verify_batch": run_verify_batch,
}

if missing := {spec.kind for spec in CATALOG} - set(HANDLERS):  # pragma: no cover
    raise RuntimeError(f"catalogued kinds without a handler: {sorted(missing)}")


def handler_for(spec: JobSpec) -> Handler:
    """The handler of a catalogued kind."""
    return HANDLERS[spec.kind]
