"""The one place that turns errors into HTTP responses, all with the same JSON shape:

    {"error": {"code": "...", "message": "...", "field": ..., "line": ..., "details": [{"message", "field", "line"}]}}

Domain errors (`truthline.errors`) know nothing about HTTP; this module owns their status codes. Request
validation errors become 422 naming the dotted field; unknown routes and methods keep their 404/405; anything
else is a 500 that says nothing about internals (the traceback goes to the server log only).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from truthline import errors as E

from .responses import SafeJSONResponse

log = logging.getLogger("truthline.api")


@dataclass
class UnsupportedMediaType(E.TruthlineError):
    """The request body's Content-Type is not one this endpoint reads. 415 (an HTTP-only notion)."""

    code: str = "unsupported_media_type"


STATUS: dict[type[E.TruthlineError], int] = {
    E.Invalid: 422,
    E.NotFound: 404,
    E.Conflict: 409,
    E.Unauthorized: 401,
    E.Forbidden: 403,
    E.TooLarge: 413,
    E.NotReady: 503,
    E.Throttled: 429,
    UnsupportedMediaType: 415,
}

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}

ErrorRenderer = Callable[[Request, int, dict[str, Any]], Response | None]


def status_for(exc: E.TruthlineError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_payload(
    code: str,
    message: str,
    field: str | None = None,
    line: int | None = None,
    details: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The body of every error response; `field` and `line` are always present (null when not applicable)."""
    return {
        "error": {
            "code": code,
            "message": message,
            "field": field,
            "line": line,
            "details": [{"message": d["message"], "field": d.get("field"), "line": d.get("line")} for d in details],
        }
    }


def payload_for(exc: E.TruthlineError) -> dict[str, Any]:
    """A batch error with no single location points at its first problem, so clients that only read the
    top level still learn where to look."""
    field, line = exc.field, exc.line
    if field is None and line is None and exc.details:
        field, line = exc.details[0].field, exc.details[0].line
    return error_payload(exc.code, exc.message, field, line, [p.as_dict() for p in exc.details])


def dotted(loc: Sequence[str | int]) -> str:
    """("body", "labels", 0) -> "labels[0]"; ("query", "method") -> "method"; ("body",) -> "body"."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def _validation_problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            # FastAPI puts the character offset in loc; say where in the body it broke instead.
            ctx = err.get("ctx") or {}
            pos = loc[1] if len(loc) > 1 else "?"
            problems.append({"message": f"malformed JSON at character {pos}: {ctx.get('error', 'decode error')}", "field": "body"})
            continue
        field = dotted(loc)
        problems.append({"message": f"{field}: {err.get('msg', 'invalid value')}", "field": field})
    return problems


def _allowed_methods(request: Request) -> str:
    """Every method the API serves on this path, from the OpenAPI document (Starlette's 405 names only the
    methods of the first route whose path matched)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods.update(m.upper() for m in operations)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI, render_error: ErrorRenderer | None = None) -> None:
    """Register the handlers. `render_error` (from the web package) may answer non-API paths with HTML."""

    def respond(request: Request, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        if render_error is not None and not request.url.path.startswith("/api/"):
            custom = render_error(request, status, payload)
            if custom is not None:
                return custom
        return SafeJSONResponse(payload, status_code=status, headers=headers)

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, E.TruthlineError)
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, E.Throttled):
            headers = {"Retry-After": str(max(1, exc.retry_after))}
        return respond(request, status, payload_for(exc), headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = _validation_problems(exc) or [{"message": "invalid request", "field": "body"}]
        first = problems[0]
        message = first["message"] if len(problems) == 1 else f"{len(problems)} problems; first: {first['message']}"
        return respond(request, 422, error_payload("invalid", message, first.get("field"), None, problems))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # FastAPI turns any failure while reading a body into a bare 400 "error parsing the body"; say what it was
        if isinstance(exc.__cause__, E.TruthlineError):  # BodyLimit's 413 on a body sent without Content-Length
            return await on_domain(request, exc.__cause__)
        if isinstance(exc.__cause__, UnicodeDecodeError):
            return respond(request, 422, error_payload("invalid", f"body is not valid UTF-8 JSON ({exc.__cause__})", "body"))
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}; see /api/v1/docs"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /api/v1/docs"
            allowed = _allowed_methods(request)  # empty off the API: keep Starlette's header
            if allowed:
                headers["Allow"] = allowed
        return respond(request, exc.status_code, error_payload(code, message), headers or None)

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        # The client left mid-upload: nothing was written, and no one is there to read an answer or a traceback.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return SafeJSONResponse(error_payload("bad_request", "the request body was cut off"), status_code=400)

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        payload = error_payload("internal", "internal server error; the details are in the server log")
        try:
            return respond(request, 500, payload)  # a page's crash is an HTML page too
        except Exception:  # noqa: BLE001 - the error page itself failed: fall back to plain JSON
            log.exception("the error page failed too")
            return SafeJSONResponse(payload, status_code=500)

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        E.TruthlineError: on_domain,
        RequestValidationError: on_validation,
        StarletteHTTPException: on_http,
        ClientDisconnect: on_disconnect,
        Exception: on_crash,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
