"""Request dependencies: the engine, the settings, and who is asking.

Dependencies are `async def` so FastAPI runs them inline instead of hopping to the threadpool for each (a hop
costs about as much as a token lookup); the token lookup itself hops only when the token is not in the
service's short-lived per-process cache.

A caller is identified by `Authorization: Bearer <api token>` or, for the web pages' own JavaScript, by the
session cookie. Cookie-authenticated writes must also carry `X-Truthline-CSRF` (an HMAC of the session token),
which a cross-site form cannot know.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from truthline.errors import Forbidden, Unauthorized
from truthline.quality import METHODS
from truthline.services import users as user_service
from truthline.settings import Settings

SESSION_COOKIE = "truthline_session"
CSRF_HEADER = "X-Truthline-CSRF"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

MAX_ID = 2**63 - 1  # ids are 64-bit on both databases; larger numbers are a 422, not a driver overflow
ProjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="A project id.")]
LeaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="A lease id, as returned by next.")]

_bearer = HTTPBearer(auto_error=False, description="An API token from POST /api/v1/auth/login or `truthline init`.")


async def get_engine(request: Request) -> Any:
    return request.app.state.engine


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def csrf_matches(sent: str, expected: str) -> bool:
    """Constant-time comparison of a sent CSRF value (any text: compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())


def csrf_token(request: Request, session_token: str) -> str:
    """The value web pages send as `X-Truthline-CSRF` for this session."""
    key: bytes = request.app.state.secret_key
    return hmac.new(key, session_token.encode(), hashlib.sha256).hexdigest()


async def _user_for_token(engine: Any, token: str, kind: str) -> Any:
    # A token this process checked in the last few seconds is answered from memory, on the event loop;
    # otherwise the database lookup runs in the threadpool (see users.TOKEN_CACHE_SECONDS).
    user = user_service.cached_user_for_token(engine, token, kind)
    if user is None:
        user = await run_in_threadpool(user_service.user_for_token, engine, token, kind)
    return user


async def optional_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Any | None:
    """The acting user, or None when the request carries no credentials at all."""
    return await _acting_user(request, credentials)


async def _acting_user(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Any | None:
    engine = request.app.state.engine
    if credentials is not None:
        return await _user_for_token(engine, credentials.credentials, "api")
    if request.headers.get("authorization"):
        raise Unauthorized("Authorization header must be `Bearer <token>`", field="Authorization")
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return None
    user = await _user_for_token(engine, session, "session")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not csrf_matches(sent, csrf_token(request, session)):
            raise Forbidden(f"cookie-authenticated writes need the {CSRF_HEADER} header from the page", field=CSRF_HEADER)
    return user


async def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The raw bearer token of this request (for revoking it)."""
    if credentials is None:
        raise Unauthorized("send the token to revoke as `Authorization: Bearer <token>`")
    return credentials.credentials


async def current_user(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Any:
    """The acting user; 401 without credentials. (Not layered on optional_user: one dependency level less
    to solve on every request.)"""
    user = await _acting_user(request, credentials)
    if user is None:
        raise Unauthorized("authentication required: send `Authorization: Bearer <token>` (POST /api/v1/auth/login gives one)")
    return user


async def method_param(
    request: Request,
    method: str | None = Query(None, description="Truth-inference method. Default: the server's default_method.",
                               json_schema_extra={"enum": sorted(METHODS)}),
) -> str:
    """The truth-inference method asked for, or the server's default. The services check the name once the
    caller may see the project (an outsider gets 404, not a 422 about the method)."""
    return method if method is not None else request.app.state.settings.default_method


async def idempotency_header(
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200),
) -> str | None:
    return idempotency_key
