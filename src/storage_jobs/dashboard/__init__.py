"""A web dashboard for the queue: queues, jobs, migrations, dead letters and workers.

``create_app(settings)`` returns a Starlette (ASGI) app; serve it with ``storage-jobs
dashboard`` or mount it in a FastAPI or Starlette app (``app.mount("/jobs", create_app(s))``).
Pages are rendered on the server and kept current by a small script polling the JSON API under
``/api/``; every API answer is a pydantic model (exported here).
"""

from ._answers import (
    ActionResult,
    DeadLetterDetail,
    DeadLetterPage,
    DeadLetterRow,
    FailedKey,
    FinishedCounts,
    JobDetail,
    JobPage,
    JobRow,
    Overview,
    PrefixJobPage,
    PrefixJobProgress,
    QueueCounts,
    QueueOverview,
    Unreadable,
    WorkerRow,
    WorkersPage,
)
from ._app import create_app

__all__ = [
    "ActionResult",
    "DeadLetterDetail",
    "DeadLetterPage",
    "DeadLetterRow",
    "FailedKey",
    "FinishedCounts",
    "JobDetail",
    "JobPage",
    "JobRow",
    "Overview",
    "PrefixJobPage",
    "PrefixJobProgress",
    "QueueCounts",
    "QueueOverview",
    "Unreadable",
    "WorkerRow",
    "WorkersPage",
    "create_app",
]
