"""The FastAPI application factory: REST routers under /api/v1, one error mapping, web pages if installed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import truthline
from truthline import offload
from truthline.settings import Settings, get_settings
from truthline.store import db

from .bodylimit import BodyLimit
from .errors import install_error_handlers
from .headers import ApiHeaders
from .responses import SafeJSONResponse
from .schemas import ErrorOut
from .routers import ROUTERS

API_PREFIX = "/api/v1"
LOGIN_GATE = 4  # logins in the thread pool at once (2 checking a password, 2 reading or writing)
JSON_BODY_LIMIT = 2 * 1024 * 1024  # bytes; every request body except item imports (those: settings.max_upload_bytes)


def _web_routes() -> ModuleType | None:
    """The web package's routes module, or None when it is not there (only a *missing* module is tolerated)."""
    try:
        from truthline.web import routes
    except ModuleNotFoundError as exc:
        if exc.name in ("truthline.web.routes", "truthline.web"):
            return None
        raise
    return routes


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    offload.shutdown()  # the inference child's queues are released, not left to the resource tracker


def create_app(settings: Settings | None = None, engine: Any = None) -> FastAPI:
    """Build the app. Without `engine`, connect to `settings.db` and refuse (NotReady) if it is not migrated."""
    settings = settings or get_settings()
    if engine is None:
        engine = db.make_engine(settings.db)
        try:
            db.ensure_migrated(engine)
        except BaseException:
            engine.dispose()
            raise
    app = FastAPI(
        title="Truthline",
        version=truthline.__version__,
        description="Open, self-hostable data engine for AI: projects, items, routing, truth inference, export.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=_lifespan,
        default_response_class=SafeJSONResponse,
        # one error shape for every route (this also replaces FastAPI's default 422 schema, which we never send)
        responses={"4XX": {"model": ErrorOut, "description": "The request was refused; `error` says why and where"}},
    )
    app.state.settings = settings
    offload.configure(settings.offload_min_labels, settings.offload_idle_seconds)
    app.state.engine = engine
    # Password checks wait for one of users.HASH_SLOTS; logins past LOGIN_GATE wait in the event loop, so a
    # flood of them cannot hold every worker thread (an authenticated request took 1.7 s behind 60 logins).
    app.state.login_gate = anyio.Semaphore(LOGIN_GATE)
    # CSRF tokens are HMACs of the (secret, HttpOnly) session token, so they cannot be forged without it even
    # under this fixed default key; a fixed default keeps them valid across restarts and serve processes.
    app.state.secret_key = settings.secret_key.get_secret_value().encode() or b"truthline-csrf-v1"
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    # Item imports stream to disk under their own limit (uploads.py); every other body is capped here.
    # The web page's import form posts to the same path without the API prefix.
    app.add_middleware(BodyLimit, max_bytes=JSON_BODY_LIMIT,
                       exempt=re.compile(rf"^({API_PREFIX})?/projects/[^/]+/items/?$"))
    app.add_middleware(ApiHeaders, prefix=f"{API_PREFIX}/")
    web = _web_routes()
    if web is not None:
        app.include_router(web.router)
        static_dir = getattr(web, "STATIC_DIR", None)
        if static_dir is not None:
            app.mount("/static", StaticFiles(directory=static_dir), name="static")
    install_error_handlers(app, getattr(web, "render_error", None))
    return app
