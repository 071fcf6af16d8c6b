"""The server-rendered pages; each names the API answer its script polls to stay current."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ._actions import DEAD_LETTER_ACTIONS, JOB_ACTIONS, QUEUE_ACTIONS
from ._answers import Unreadable
from ._chart import history_svg
from ._dashboard import dashboard_of
from ._detail import dead_letter_detail, detail_bytes, job_detail
from ._params import KINDS, STATES, kind_param, paging, state_param, text_param
from ._security import checked_form, local_path

__all__ = ["page_routes"]

CONFIRM_SHOWN = 20
"""Ids listed on a bulk action's confirmation page (the count covers them all)."""


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A page, with what every template needs (base path, CSRF token, the actions switch)."""
    dashboard = dashboard_of(request)
    page = dashboard.templates.get_template(template).render(
        base=request.scope.get("root_path", ""),
        csrf=request.state.csrf,
        actions_enabled=dashboard.access.actions_enabled,
        token_set=dashboard.access.token is not None,
        authenticated=request.state.authenticated,
        queue=dashboard.settings.queue_name,
        path=local_path(request),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def _back(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + path, status_code=303)


async def login_form(request: Request) -> Response:
    """``GET /login``."""
    return render(request, "login.html", error=None)


async def login(request: Request) -> Response:
    """``POST /login``: checks the token and starts a new session (a new id, against fixation).

    A client address with ``LOGIN_FAILURES_ALLOWED`` failures this minute gets 429 without its
    token being looked at, so guessing goes no faster than that.
    """
    dashboard = dashboard_of(request)
    sessions, redis, client = dashboard.access.sessions, dashboard.redis, request.state.client
    form = await checked_form(request, dashboard.access, action=False)
    if await sessions.throttled(redis, client):
        dashboard.log.warning("dashboard.login_failed", client=client, throttled=True)
        message = "too many failed logins: try again in a minute"
        return render(request, "login.html", status_code=429, error=message)
    offered = form.get("token")
    if not isinstance(offered, str) or not dashboard.access.token_matches(offered):
        failures = await sessions.failed(redis, client)
        dashboard.log.warning("dashboard.login_failed", client=client, failures=failures)
        return render(request, "login.html", status_code=401, error="wrong token")
    sid = secrets.token_urlsafe(24)
    await sessions.open(redis, sid)
    request.state.session = {"sid": sid, "auth": True}
    request.state.session_changed = True
    dashboard.log.info("dashboard.login", client=client)
    return _back(request, "/")


async def logout(request: Request) -> Response:
    """``POST /logout``: ends the login in Redis, so a copy of the cookie no longer opens it."""
    dashboard = dashboard_of(request)
    await checked_form(request, dashboard.access, action=False)
    await dashboard.access.sessions.revoke(dashboard.redis, request.state.session["sid"])
    request.state.session = {"sid": secrets.token_urlsafe(24), "auth": False}
    request.state.session_changed = True
    return _back(request, "/login")


async def overview(request: Request) -> Response:
    """``GET /``."""
    dashboard = dashboard_of(request)
    answer = await dashboard.reader.overview(actions_enabled=dashboard.access.actions_enabled)
    return render(request, "overview.html", api="/api/overview", o=answer)


async def chart(request: Request) -> Response:
    """``GET /chart.svg``: the last hour's outcomes."""
    dashboard = dashboard_of(request)
    history = await dashboard.queue.listings.history()
    return Response(history_svg(history), media_type="image/svg+xml")


async def jobs(request: Request) -> Response:
    """``GET /jobs``: a state's jobs, filtered by kind; ``?q=ID`` opens that job."""
    if job_id := text_param(request, "q"):
        return _back(request, f"/jobs/{quote(job_id, safe='')}")
    offset, limit = paging(request)
    state, kind = state_param(request), kind_param(request)
    page = await dashboard_of(request).reader.jobs(state, kind, offset, limit)
    api = f"/api/jobs?status={state}&offset={offset}&limit={limit}" + (
        f"&kind={kind}" if kind else ""
    )
    return render(request, "jobs.html", api=api, page=page, states=STATES, kinds=KINDS)


async def job(request: Request) -> Response:
    """``GET /jobs/{job_id}``."""
    dashboard = dashboard_of(request)
    job_id = request.path_params["job_id"]
    max_bytes = detail_bytes(dashboard.settings.max_payload_bytes)
    found = await job_detail(dashboard.queue, job_id, max_bytes=max_bytes)
    if found is None:
        return render(request, "missing.html", status_code=404, what="job", job_id=job_id)
    if isinstance(found, Unreadable):
        return render(request, "unreadable.html", what="job", u=found)
    api = f"/api/jobs/{quote(job_id, safe='')}"
    return render(request, "job.html", api=api, job=found)


async def prefix_jobs(request: Request) -> Response:
    """``GET /migrations``."""
    offset, limit = paging(request, default_limit=20)
    page = await dashboard_of(request).reader.prefix_jobs(offset, limit)
    api = f"/api/migrations?offset={offset}&limit={limit}"
    return render(request, "migrations.html", api=api, page=page)


async def dead_letters(request: Request) -> Response:
    """``GET /dead-letters``."""
    offset, limit = paging(request)
    kind, error_type = kind_param(request), text_param(request, "error_type")
    page = await dashboard_of(request).reader.dead_letters(kind, error_type, offset, limit)
    return render(request, "dead_letters.html", page=page, kinds=KINDS)


async def dead_letter(request: Request) -> Response:
    """``GET /dead-letters/{job_id}``."""
    dashboard = dashboard_of(request)
    job_id = request.path_params["job_id"]
    found = await dead_letter_detail(dashboard.queue, job_id)
    if found is None:
        return render(request, "missing.html", status_code=404, what="dead letter", job_id=job_id)
    if isinstance(found, Unreadable):
        return render(request, "unreadable.html", what="dead letter", u=found)
    return render(request, "dead_letter.html", d=found)


async def dead_letter_action(request: Request) -> Response:
    """``POST /actions/dead-letters``: replay or drop one, a selection, or a filter's matches.

    A selection or a filter is first answered with a confirmation page naming the count; the
    action runs when that page is posted back and the count still holds.
    """
    dashboard = dashboard_of(request)
    form = await checked_form(request, dashboard.access, action=True)
    action, scope = str(form.get("action", "")), str(form.get("scope", "one"))
    if action not in DEAD_LETTER_ACTIONS or scope not in ("one", "selected", "filter"):
        raise HTTPException(400, f"action is one of {', '.join(DEAD_LETTER_ACTIONS)}")
    actions = dashboard.actions(request)
    kind = str(form.get("kind") or "") or None
    error_type = str(form.get("error_type") or "") or None
    if kind is not None and kind not in KINDS:
        raise HTTPException(400, "unknown kind")
    if scope == "filter":
        ids = await actions.matching(kind, error_type)
    else:
        ids = list(dict.fromkeys(str(i) for i in form.getlist("ids") if str(i)))
    if not ids:
        raise HTTPException(400, "no dead letters selected")
    if scope == "one" and len(ids) != 1:
        raise HTTPException(400, "scope one takes one id")
    if scope != "one" and form.get("confirm") != "yes":
        return render(
            request,
            "confirm.html",
            action=action,
            scope=scope,
            ids=ids,
            shown=ids[:CONFIRM_SHOWN],
            kind=kind,
            error_type=error_type,
            changed=None,
        )
    if scope != "one" and str(form.get("expected")) != str(len(ids)):
        return render(
            request,
            "confirm.html",
            status_code=409,
            action=action,
            scope=scope,
            ids=ids,
            shown=ids[:CONFIRM_SHOWN],
            kind=kind,
            error_type=error_type,
            changed=str(form.get("expected")),
        )
    result = await actions.run(action, ids, via="page" if scope == "one" else f"bulk:{scope}")
    return render(request, "action_done.html", result=result, back="/dead-letters")


def _next_path(form: Any, default: str) -> str:
    """Where a form asks to go back to: a path inside the dashboard, never another site."""
    wanted = str(form.get("next") or "")
    if not wanted.startswith("/") or wanted.startswith("//") or "\\" in wanted:
        return default
    return wanted


async def _run_and_return(
    request: Request, form: Any, action: str, ids: list[str], default: str
) -> Response:
    """Runs an action from a page; back to that page when all is done, else what was refused."""
    result = await dashboard_of(request).actions(request).run(action, ids, via="page")
    back = _next_path(form, default)
    if result.refused:
        return render(request, "action_done.html", status_code=409, result=result, back=back)
    return _back(request, back)


async def job_action(request: Request) -> Response:
    """``POST /actions/jobs``: cancel jobs; pause, resume or cancel a migration or prefix delete.

    Back to the page it came from (``next``) when done; what was refused is shown otherwise.
    """
    form = await checked_form(request, dashboard_of(request).access, action=True)
    action = str(form.get("action", ""))
    if action not in JOB_ACTIONS:
        raise HTTPException(400, f"action is one of {', '.join(JOB_ACTIONS)}")
    ids = list(dict.fromkeys(str(i) for i in form.getlist("ids") if str(i)))
    if not ids:
        raise HTTPException(400, "no job selected")
    default = f"/jobs/{quote(ids[0], safe='')}" if len(ids) == 1 else "/jobs"
    return await _run_and_return(request, form, action, ids, default)


async def queue_action(request: Request) -> Response:
    """``POST /actions/queue``: pause or resume the queue, then back to the overview."""
    dashboard = dashboard_of(request)
    form = await checked_form(request, dashboard.access, action=True)
    action = str(form.get("action", ""))
    if action not in QUEUE_ACTIONS:
        raise HTTPException(400, f"action is one of {', '.join(QUEUE_ACTIONS)}")
    queue = str(form.get("queue") or dashboard.settings.queue_name)
    return await _run_and_return(request, form, action, [queue], "/")


async def workers(request: Request) -> Response:
    """``GET /workers``."""
    page = await dashboard_of(request).reader.workers()
    return render(request, "workers.html", api="/api/workers", page=page)


def page_routes() -> list[Route]:
    """The pages' routes."""
    return [
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/chart.svg", chart),
        Route("/jobs", jobs),
        Route("/jobs/{job_id:path}", job),
        Route("/migrations", prefix_jobs),
        Route("/dead-letters", dead_letters),
        Route("/dead-letters/{job_id:path}", dead_letter),
        Route("/actions/dead-letters", dead_letter_action, methods=["POST"]),
        Route("/actions/jobs", job_action, methods=["POST"]),
        Route("/actions/queue", queue_action, methods=["POST"]),
        Route("/workers", workers),
    ]
