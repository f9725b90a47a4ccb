"""Running the ASGI app: in the foreground for `serve`/`demo`, in a background thread for tests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .context import console

__all__ = ["run_server", "background_server"]


def run_server(db_url: str, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Serve until Ctrl-C. Raises NotReady (naming `truthline db upgrade`) on an unmigrated database.

    workers > 1 runs that many server processes on one socket (uvicorn's supervisor): each has its own
    GIL, so API throughput grows with the cores. They share the database (SQLite: one writer at a time,
    taken in turn) and nothing else; each keeps its own results cache."""
    from truthline.api.app import create_app
    from truthline.settings import Settings

    settings = Settings(db=db_url)
    app = create_app(settings)  # builds the engine and checks migrations first, before any worker starts
    host = host or settings.host
    port = port or settings.port
    console.print(f"Serving Truthline on [bold]http://{host}:{port}/[/] (Ctrl-C to stop)"
                  + (f" with {workers} worker processes" if workers > 1 else ""), soft_wrap=True)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    app.state.engine.dispose()
    os.environ["TRUTHLINE_DB"] = db_url  # the workers build their app from the environment's settings
    uvicorn.run("truthline.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


@contextmanager
def background_server(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` in a thread (port 0: a free one); yields its base URL; stops it on exit."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
