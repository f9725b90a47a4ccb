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

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from truthline import __version__
from truthline.api.deps import SESSION_COOKIE, ProjectId, csrf_matches, csrf_token, get_engine, optional_user
from truthline.api.errors import status_for
from truthline.api.uploads import multipart_file  # the API's byte-counting multipart reader
from truthline.errors import Forbidden, Invalid, NotFound, Throttled, TruthlineError, Unauthorized
from truthline.services import importing
from truthline.services import projects as project_service
from truthline.services import users as user_service
from truthline.tasktypes import get_task_type, task_type_names

from . import dashboard, forms
from .markdown import render_markdown

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
TEMPLATES.env.globals.update(version=__version__)
TEMPLATES.env.filters["markdown"] = render_markdown
TEMPLATES.env.filters["range_text"] = dashboard.range_text  # a numeric project's range in words

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


def _form_from_us(request: Request, session: str, csrf: Any) -> bool:
    """A cookie-authenticated form came from our own pages: our Origin, and the session's CSRF value."""
    return _same_origin(request) and isinstance(csrf, str) and csrf_matches(csrf, csrf_token(request, session))


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


# The password check runs in a thread, so hashing never blocks the event loop; past the app's login gate,
# logins wait in the loop, so a flood of them cannot hold the threads other requests need.
@router.post("/login", response_class=HTMLResponse)
async def login(
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
    client = request.client and request.client.host
    try:
        async with request.app.state.login_gate:
            user = await run_in_threadpool(user_service.authenticate, engine, username, password, client)
    except Unauthorized:
        return page(request, "login.html", {**ctx, "error": "Wrong username or password. Try again."}, 401)
    except Throttled as exc:
        response = page(request, "login.html", {**ctx, "error": exc.message[:1].upper() + exc.message[1:] + "."}, 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token = await run_in_threadpool(user_service.create_token, engine, user, "web", "session")
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
        if not _form_from_us(request, session, csrf):
            raise Forbidden("log out from Truthline's own pages (the form's CSRF value did not match)", field="csrf")
        try:
            user_service.revoke_token(engine, session)
        except NotFound:
            pass  # already expired or revoked: logging out again is fine
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- your account --------------------------------------------------------------------------------
@router.api_route("/account", methods=PAGE_METHODS, response_class=HTMLResponse)
def account(request: Request, done: str | None = Query(None, max_length=40),
            user: Any = Depends(optional_user)) -> Response:
    if user is None:
        return _login_redirect(request)
    notice = "Password changed; your other sessions and tokens have ended." if done == "password" else None
    return page(request, "account.html", {"user": user, "form": forms.FormState({}), "notice": notice})


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    csrf: str = Form("", max_length=200),
    current_password: str = Form("", max_length=user_service.MAX_PASSWORD),
    new_password: str = Form("", max_length=user_service.MAX_PASSWORD),
    engine: Any = Depends(get_engine),
) -> Response:
    user = await run_in_threadpool(_form_user, request, engine, csrf)
    if user is None:
        return _login_then("/account")
    session = request.cookies[SESSION_COOKIE]
    try:  # behind the login gate: the current password is checked like a login
        async with request.app.state.login_gate:
            await run_in_threadpool(user_service.change_password, engine, user, current_password, new_password,
                                    session)
    except TruthlineError as exc:  # wrong current password 403, too short 422, too many tries 429
        form = forms.failed(forms.FormState({}), exc, ("current_password", "new_password", "password"))
        if "password" in form.errors:  # the service names the new password `password`
            form.errors["new_password"] = form.errors.pop("password")
        return page(request, "account.html", {"user": user, "form": form, "notice": None}, status_for(exc))
    return RedirectResponse("/account?done=password", status_code=303)


# -- pages ---------------------------------------------------------------------------------------
@router.api_route("/", methods=PAGE_METHODS, response_class=HTMLResponse)
def home(request: Request, user: Any = Depends(optional_user), engine: Any = Depends(get_engine)) -> Response:
    if user is None:
        return _login_redirect(request)
    return _home_page(request, engine, user, forms.new_project_form())


def _home_page(request: Request, engine: Any, user: Any, form: forms.FormState, status_code: int = 200) -> Response:
    rows = []
    for p in project_service.list_projects(engine, user):
        role = project_service.project_role(engine, user, p.id)
        rows.append({"project": p, "role": role, "can_manage": dashboard.can_manage(user, role)})
    # Shown to whom create_project lets through (the service enforces it either way).
    can_create = user.is_admin or request.app.state.settings.project_creators == "everyone"
    context = {"user": user, "rows": rows, "can_create": can_create, "form": form, "task_types": task_type_names()}
    return page(request, "home.html", context, status_code)


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
    if project.range is not None:  # numeric: the widget refuses what the server would, before sending it
        config["range"] = project.range
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
    done: str | None = Query(None, max_length=40),
    created: int | None = Query(None, ge=0),
    updated: int | None = Query(None, ge=0),
    unchanged: int | None = Query(None, ge=0),
    user: Any = Depends(optional_user),
    engine: Any = Depends(get_engine),
) -> Response:
    if user is None:
        return _login_redirect(request)
    project = _managed_project(engine, user, project_id)
    notice = forms.import_notice(created, updated, unchanged) or forms.NOTICES.get(done or "")
    return _manage_page(request, engine, user, project, method, notice=notice)


def _managed_project(engine: Any, user: Any, project_id: int) -> Any:
    """The project if `user` manages it: 404 for outsiders (get_project), 403 for its other members."""
    project = project_service.get_project(engine, user, project_id)
    if not dashboard.can_manage(user, project_service.project_role(engine, user, project_id)):
        raise Forbidden("only the project's managers (and admins) can see its dashboard", field="project_id")
    return project


def _manage_page(
    request: Request,
    engine: Any,
    user: Any,
    project: Any,
    method: str | None = None,
    notice: str | None = None,
    import_form: forms.FormState | None = None,
    member_form: forms.FormState | None = None,
    settings_form: forms.FormState | None = None,
    status_code: int = 200,
) -> Response:
    method = method or dashboard.default_method(project.task_type, request.app.state.settings.default_method)
    view = dashboard.build(engine, user, project, method)
    context = {
        "user": user, "project": project, "can_manage": True, "notice": notice,
        "members": project_service.list_members(engine, user, project.id), "roles": forms.MEMBER_ROLES,
        "import_form": import_form or forms.FormState({}), "member_form": member_form or forms.new_member_form(),
        "settings_form": settings_form or forms.settings_form(project), "statuses": forms.STATUSES,
        "accept": ",".join(f".{s}" for s in ("jsonl", "ndjson", "json", "csv", "parquet")), **view,
    }
    return page(request, "manage.html", context, status_code)


# -- the requester's forms -----------------------------------------------------------------------
# Cookie-authenticated like the pages, so each refuses a form sent from another site: the Origin must be ours
# and the form's `csrf` field must match the session's value (the same HMAC the pages' scripts send as the
# X-Truthline-CSRF header). Success is a 303 to a page (post-redirect-get); a refused input re-renders the
# form with the user's input and the message next to the field it names.
def _csrf_refused() -> Forbidden:
    return Forbidden("send this form from Truthline's own pages (its CSRF value did not match); reload the page "
                     "and try again", field="csrf")


def _form_user(request: Request, engine: Any, csrf: str | None) -> Any | None:
    """The signed-in user sending a form, None without a live session. `csrf=None`: the caller checks it
    itself later (a multipart upload's fields arrive with the file)."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return None
    if not (_same_origin(request) if csrf is None else _form_from_us(request, session, csrf)):
        raise _csrf_refused()
    try:
        return user_service.user_for_token(engine, session, "session")
    except Unauthorized:
        return None


def _login_then(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path, safe='')}", status_code=303)


@router.post("/projects", response_class=HTMLResponse)
def create_project(
    request: Request,
    csrf: str = Form("", max_length=200),
    name: str = Form("", max_length=1000),
    task_type: str = Form("classification", max_length=100),
    labels: str = Form("", max_length=200_000),
    overlap: str = Form("1", max_length=100),
    guidelines: str = Form("", max_length=1_000_000),
    range_min: str = Form("", max_length=100),
    range_max: str = Form("", max_length=100),
    tolerance: str = Form("", max_length=100),
    ties: str = Form("", max_length=10),  # the checkboxes: "true" when ticked, absent otherwise
    random_order: str = Form("", max_length=10),
    engine: Any = Depends(get_engine),
) -> Response:
    user = _form_user(request, engine, csrf)
    if user is None:
        return _login_then("/")
    form = forms.FormState({"name": name, "task_type": task_type, "labels": labels, "overlap": overlap,
                            "guidelines": guidelines, "range_min": range_min, "range_max": range_max,
                            "tolerance": tolerance, "ties": forms.ticked(ties),
                            "random_order": forms.ticked(random_order)})
    try:
        project = project_service.create_project(engine, user, forms.project_spec(form.values))
    except TruthlineError as exc:  # Invalid 422, Conflict 409 (the name is taken), Forbidden 403 (admins only)
        return _home_page(request, engine, user, forms.failed(form, exc, forms.PROJECT_FIELDS), status_for(exc))
    return RedirectResponse(f"/projects/{project.id}/manage?done=project-created", status_code=303)


@router.post("/projects/{project_id}/settings", response_class=HTMLResponse)
def update_settings(
    request: Request,
    project_id: ProjectId,
    csrf: str = Form("", max_length=200),
    overlap: str = Form("", max_length=100),
    guidelines: str = Form("", max_length=1_000_000),
    status: str = Form("", max_length=40),
    pay_cents: str = Form("", max_length=100),
    range_min: str = Form("", max_length=100),
    range_max: str = Form("", max_length=100),
    tolerance: str = Form("", max_length=100),
    ties: str = Form("", max_length=10),  # the checkboxes: "true" when ticked, absent otherwise
    random_order: str = Form("", max_length=10),
    engine: Any = Depends(get_engine),
) -> Response:
    user = _form_user(request, engine, csrf)
    if user is None:
        return _login_then(f"/projects/{project_id}/manage")
    project = _managed_project(engine, user, project_id)
    form = forms.FormState({"overlap": overlap, "guidelines": guidelines, "status": status, "pay_cents": pay_cents,
                            "range_min": range_min, "range_max": range_max, "tolerance": tolerance,
                            "ties": forms.ticked(ties), "random_order": forms.ticked(random_order)})
    try:  # one transaction: a refused field changes nothing
        project_service.update_project(engine, user, project.id, forms.settings_changes(project, form.values))
    except TruthlineError as exc:  # Invalid 422 (a bad value, a range or ties that stored answers need)
        return _manage_page(request, engine, user, project, settings_form=forms.failed(form, exc, forms.SETTINGS_FIELDS),
                            status_code=status_for(exc))
    return RedirectResponse(f"/projects/{project.id}/manage?done=settings-saved#settings-h", status_code=303)


@router.post("/projects/{project_id}/items", response_class=HTMLResponse)
async def import_items(request: Request, project_id: ProjectId, engine: Any = Depends(get_engine)) -> Response:
    back = f"/projects/{project_id}/manage"
    user = await run_in_threadpool(_form_user, request, engine, None)
    if user is None:
        return _login_then(back)
    project = await run_in_threadpool(_managed_project, engine, user, project_id)  # 404/403 before the body
    form = forms.FormState({})
    try:
        upload, parts = await multipart_file(request, request.app.state.settings.max_upload_bytes)
    except TruthlineError as exc:  # too large, malformed, no file part: nothing read into the database
        if isinstance(exc, Invalid) and exc.field == "file" and "file part" in exc.message:
            exc = _no_file()  # browsers send a form without a chosen file as a plain field: "no file part"
        return await run_in_threadpool(_import_failed, request, engine, user, project, form, exc)
    try:
        if not _form_from_us(request, request.cookies[SESSION_COOKIE], parts.get("csrf")):
            raise _csrf_refused()
        try:
            if not upload.filename:
                raise _no_file()
            fmt = importing.format_for(upload.filename)
            report = await run_in_threadpool(importing.import_file, engine, user, project.id, upload.file, fmt)
        except TruthlineError as exc:
            return await run_in_threadpool(_import_failed, request, engine, user, project, form, exc)
    finally:
        await parts.close()
    return RedirectResponse(f"{back}?created={report.created}&updated={report.updated}"
                            f"&unchanged={report.unchanged}#import-h", status_code=303)


def _no_file() -> Invalid:
    return Invalid("choose a file to import (.jsonl, .csv, .parquet or .json)", field="file")


def _import_failed(request: Request, engine: Any, user: Any, project: Any, form: forms.FormState,
                   exc: TruthlineError) -> Response:
    return _manage_page(request, engine, user, project, import_form=forms.failed(form, exc, ("file",)),
                        status_code=status_for(exc))


@router.post("/projects/{project_id}/members", response_class=HTMLResponse)
def add_member(
    request: Request,
    project_id: ProjectId,
    csrf: str = Form("", max_length=200),
    username: str = Form("", max_length=200),
    role: str = Form("annotator", max_length=40),
    engine: Any = Depends(get_engine),
) -> Response:
    user = _form_user(request, engine, csrf)
    if user is None:
        return _login_then(f"/projects/{project_id}/manage")
    project = _managed_project(engine, user, project_id)
    form = forms.FormState({"username": username.strip(), "role": role})
    try:
        project_service.add_member(engine, user, project.id, form.values["username"], role)
    except TruthlineError as exc:
        return _manage_page(request, engine, user, project, member_form=forms.failed(form, exc, forms.MEMBER_FIELDS),
                            status_code=status_for(exc))
    return RedirectResponse(f"/projects/{project.id}/manage?done=member-saved#members-h", status_code=303)


@router.post("/projects/{project_id}/members/remove", response_class=HTMLResponse)
def remove_member(
    request: Request,
    project_id: ProjectId,
    csrf: str = Form("", max_length=200),
    username: str = Form("", max_length=200),
    engine: Any = Depends(get_engine),
) -> Response:
    user = _form_user(request, engine, csrf)
    if user is None:
        return _login_then(f"/projects/{project_id}/manage")
    project = _managed_project(engine, user, project_id)
    try:
        project_service.remove_member(engine, user, project.id, username)
    except TruthlineError as exc:
        form = forms.failed(forms.new_member_form(), exc, ())
        return _manage_page(request, engine, user, project, member_form=form, status_code=status_for(exc))
    if username == user.username and not user.is_admin:
        return RedirectResponse("/", status_code=303)  # a manager who removed themselves manages it no more
    return RedirectResponse(f"/projects/{project.id}/manage?done=member-removed#members-h", status_code=303)
