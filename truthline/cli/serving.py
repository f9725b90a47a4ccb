"""Running the ASGI app: in the foreground for `serve`/`demo`, in a background thread for tests."""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from truthline.errors import Invalid

from .context import console

__all__ = ["run_server", "background_server", "check_bindable"]


def run_server(db_url: str, host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Serve until Ctrl-C. Raises NotReady (naming `truthline db upgrade`) on an unmigrated database.

    workers > 1 runs that many server processes on one socket (uvicorn's supervisor): each has its own
    GIL, so API throughput grows with the cores. They share the database (SQLite: one writer at a time,
    taken in turn) and nothing else; each keeps its own results cache."""
    from truthline.api.app import create_app
    from truthline.settings import Settings

    settings = Settings(db=db_url)
    host = host or settings.host
    port = port or settings.port
    check_bindable(host, port)
    app = create_app(settings)  # builds the engine and checks migrations first, before any worker starts
    console.print(f"Serving Truthline on [bold]http://{host}:{port}/[/] (Ctrl-C to stop)"
                  + (f" with {workers} worker processes" if workers > 1 else ""), soft_wrap=True)
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    app.state.engine.dispose()
    os.environ["TRUTHLINE_DB"] = db_url  # the workers build their app from the environment's settings
    uvicorn.run("truthline.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


def check_bindable(host: str, port: int) -> None:
    """Bind host:port and let go, as uvicorn will: a port in use or a bad host is one clear line now,
    not "Serving ..." followed by uvicorn's log and exit code 3."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's own choice
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OverflowError:  # TRUTHLINE_PORT=70000
            raise Invalid(f"port {port} is out of range; use 1 to 65535", field="port") from None
        except OSError as exc:
            raise _bind_error(host, port, exc) from None


def _bind_error(host: str, port: int, exc: OSError) -> Invalid:
    if exc.errno == errno.EADDRINUSE:
        return Invalid(f"port {port} is in use; pick another --port", field="port")
    if exc.errno == errno.EACCES:
        return Invalid(f"port {port} needs administrator rights (below 1024); pick another --port", field="port")
    reason = exc.strerror or str(exc)
    return Invalid(f"cannot listen on {host} ({reason}); give an address of this machine such as 127.0.0.1 "
                   "(this machine only) or 0.0.0.0 (every interface)", field="--host")


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
