"""The schedules page: every schedule of the queue, paused, resumed or removed from it.

``GET /schedules`` lists them (spec, next and last tick, runs, skipped, missed); with actions on,
``POST /actions/schedules`` pauses, resumes or removes one, behind the same CSRF token and
actions switch as every other form (``checked_form``), run and logged by ``Actions``.
Schedules are added by the client or the CLI, not here: the page takes no cadence as input.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..queue import check_schedule_name
from ._actions import SCHEDULE_ACTIONS
from ._dashboard import dashboard_of
from ._pages import render
from ._security import checked_form

__all__ = ["schedule_routes"]


async def schedules(request: Request) -> Response:
    """``GET /schedules``."""
    records = await dashboard_of(request).queue.schedules.all()
    return render(request, "schedules.html", schedules=records)


async def schedule_action(request: Request) -> Response:
    """``POST /actions/schedules``: pause, resume or remove one schedule, then back to the list.

    What was refused (no such schedule, paused already...) is shown with 409.
    """
    dashboard = dashboard_of(request)
    form = await checked_form(request, dashboard.access, action=True)
    action, name = str(form.get("action", "")), str(form.get("name", ""))
    if action not in SCHEDULE_ACTIONS:
        raise HTTPException(400, f"action is one of {', '.join(SCHEDULE_ACTIONS)}")
    try:
        check_schedule_name(name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    result = await dashboard.actions(request).run(action, [name], via="page")
    if result.refused:
        return render(
            request, "action_done.html", status_code=409, result=result, back="/schedules"
        )
    return RedirectResponse(request.scope.get("root_path", "") + "/schedules", status_code=303)


def schedule_routes() -> list[Route]:
    """The schedules page's routes."""
    return [
        Route("/schedules", schedules),
        Route("/actions/schedules", schedule_action, methods=["POST"]),
    ]
