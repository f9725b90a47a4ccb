"""Web pages: login/logout, home, annotator workspace, manager project page.

Handlers are thin: load the user (session cookie), call the same service functions as the REST API (they
authorize), render a template. Labeling itself happens in the browser through the REST API with the
session cookie plus the `X-Truthline-CSRF` header (see `truthline.api.deps`).

`create_app` includes `router`, serves `STATIC_DIR` at /static and calls `render_error` for domain errors
raised on non-API paths, so a 401 becomes a redirect to the login page and 403/404 become HTML pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from truthline import __version__
from truthline.api.deps import SESSION_COOKIE, ProjectId, csrf_matches, csrf_token, get_engine, optional_user
from truthline.errors import Forbidden, NotFound, Throttled, Unauthorized
from truthline.services import projects as project_service
from truthline.services import users as user_service
from truthline.tasktypes import get_task_type

from . import dashboard
from .markdown import render_markdown

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
TEMPLATES.env.globals.update(version=__version__)
TEMPLATES.env.filters["markdown"] = render_markdown

# Pages load nothing from elsewhere: scripts and styles are ours; images may be item images (any URL or data:).
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)
PAGE_METHODS = ["GET", "HEAD"]  # HEAD: link checkers and uptime monitors ask pages before fetching them


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a template with the security headers every page carries."""
    session = request.cookies.get(SESSION_COOKIE)
    context = {"csrf": csrf_token(request, session) if session else "", **context}
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(_HEADERS)
    return response


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: `/x` yes; `//evil`, `http://evil`, `/\\evil` no (open-redirect guard)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """Form posts must come from our own pages (browsers send Origin on POST); a missing Origin is allowed.
    Host and explicit port are compared, not the scheme: behind a TLS-terminating proxy we see http while
    the browser sends https (both leave default ports out). Another port on the host is another site's page."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    try:
        parts = urlsplit(origin)
        return (parts.hostname, parts.port) == (request.url.hostname, request.url.port)
    except ValueError:  # e.g. "http://[x" or a port past 65535: not our origin (a 403, not a 500)
        return False


def render_error(request: Request, status: int, payload: dict[str, Any]) -> Response | None:
    """HTML for a domain error raised on a page: 401 -> login page; others -> an error page."""
    if status == 401:
        response: Response = _login_redirect(request)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    error = payload.get("error", {})
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Invalid request", 503: "Not ready"}
    return page(
        request,
        "error.html",
        {"user": None, "title": titles.get(status, "Error"), "status": status, "message": error.get("message", "")},
        status_code=status,
    )


# -- login / logout ------------------------------------------------------------------------------
@router.api_route("/login", methods=PAGE_METHODS, response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", {"user": None, "next": _safe_next(next), "username": "", "error": None})


# Plain `def` handlers: FastAPI runs them in a thread, so password hashing never blocks the event loop.
@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: str = Form("", max_length=100),
    password: str = Form("", max_length=user_service.MAX_PASSWORD),
    next: str = Form("/", max_length=2000),
    engine: Any = Depends(get_engine),
) -> Response:
    username = username.strip()
    target = _safe_next(next)
    ctx = {"user": None, "next": target, "username": username}
    if not _same_origin(request):
        return page(request, "login.html", {**ctx, "error": "This form must be sent from Truthline's own login page."}, 403)
    try:
        user = user_service.authenticate(engine, username, password, client=request.client and request.client.host)
    except Unauthorized:
        return page(request, "login.html", {**ctx, "error": "Wrong username or password. Try again."}, 401)
    except Throttled as exc:
        response = page(request, "login.html", {**ctx, "error": exc.message[:1].upper() + exc.message[1:] + "."}, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token = user_service.create_token(engine, user, name="web", kind="session")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=user_service.SESSION_SECONDS,  # the cookie lives as long as the server-side session
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.secure_cookies),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form("", max_length=200), engine: Any = Depends(get_engine)) -> Response:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        if not _same_origin(request) or not csrf_matches(csrf, csrf_token(request, session)):
            raise Forbidden("log out from Truthline's own pages (the form's CSRF value did not match)", field="csrf")
        try:
            user_service.revoke_token(engine, session)
        except NotFound:
            pass  # already expired or revoked: logging out again is fine
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages ---------------------------------------------------------------------------------------
@router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
def home(request: Request, user: Any = Depends(optional_user), engine: Any = Depends(get_engine)) -> Response:
    if user is None:
        return _login_redirect(request)
    rows = []
    for p in project_service.list_projects(engine, user):
        role = project_service.project_role(engine, user, p.id)
        rows.append({"project": p, "role": role, "can_manage": dashboard.can_manage(user, role)})
    return page(request, "home.html", {"user": user, "rows": rows})


@router.api_route("/projects/{project_id}/annotate", methods=PAGE_METHODS, response_class=HTMLResponse)
def workspace(
    request: Request, project_id: ProjectId, user: Any = Depends(optional_user), engine: Any = Depends(get_engine)
) -> Response:
    if user is None:
        return _login_redirect(request)
    project = project_service.get_project(engine, user, project_id)
    role = project_service.project_role(engine, user, project_id)
    widget = get_task_type(project.task_type).widget
    config = {"project_id": project.id, "task_type": project.task_type, "widget": widget, "labels": list(project.labels)}
    return page(
        request,
        "workspace.html",
        {
            "user": user,
            "project": project,
            "config": config,
            "widget": f"widget-{widget}.js" if (STATIC_DIR / f"widget-{widget}.js").is_file() else None,
            "can_manage": dashboard.can_manage(user, role),
        },
    )


@router.api_route("/projects/{project_id}/manage", methods=PAGE_METHODS, response_class=HTMLResponse)
def manage(
    request: Request,
    project_id: ProjectId,
    method: str | None = None,
    user: Any = Depends(optional_user),
    engine: Any = Depends(get_engine),
) -> Response:
    if user is None:
        return _login_redirect(request)
    project = project_service.get_project(engine, user, project_id)
    if not dashboard.can_manage(user, project_service.project_role(engine, user, project_id)):
        raise Forbidden("only the project's managers (and admins) can see its dashboard", field="project_id")
    view = dashboard.build(engine, user, project, method or request.app.state.settings.default_method)
    return page(request, "manage.html", {"user": user, "project": project, "can_manage": True, **view})
