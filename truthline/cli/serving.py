"""Running the ASGI app: in the foreground for `serve`/`demo`, in a background thread for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .context import console

__all__ = ["run_server", "background_server"]


def run_server(db_url: str, host: str | None = None, port: int | None = None) -> None:
    """Serve until Ctrl-C. Raises NotReady (naming `truthline db upgrade`) on an unmigrated database."""
    from truthline.api.app import create_app
    from truthline.settings import Settings

    settings = Settings(db=db_url)
    app = create_app(settings)  # builds the engine and checks migrations first
    host = host or settings.host
    port = port or settings.port
    console.print(f"Serving Truthline on [bold]http://{host}:{port}/[/] (Ctrl-C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


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
