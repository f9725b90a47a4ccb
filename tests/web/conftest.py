"""Web test fixtures: the real app (API + pages) on the backend's `engine` fixture, driven in-process.

`live_site` serves a seeded SQLite database with uvicorn on 127.0.0.1 for the real-browser tests.
`browser_client()` gives a synchronous httpx client that keeps cookies like a browser and hands each request
to the ASGI app on one event-loop thread (an anyio blocking portal), as tests/api does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from tests.asgi import PortalTransport
from tests.web.web_support import PASSWORD, Site, seed

from truthline.api.app import create_app
from truthline.settings import Settings
from truthline.store import db


@pytest.fixture
def site(engine: Any) -> Site:
    return seed(engine)


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as p:
        yield p


@pytest.fixture
def web_app(engine: Any) -> Any:
    return create_app(Settings(default_method="auto"), engine=engine)


@pytest.fixture
def browser_client(web_app: Any, portal: BlockingPortal) -> Iterator[Callable[[], httpx.Client]]:
    clients: list[httpx.Client] = []

    def make() -> httpx.Client:
        client = httpx.Client(transport=PortalTransport(web_app, portal), base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def login(browser_client: Callable[[], httpx.Client], site: Site) -> Callable[[str], httpx.Client]:
    """`login("ann")`: a client holding that user's session cookie."""

    def do(username: str) -> httpx.Client:
        client = browser_client()
        r = client.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
        assert r.status_code == 303, r.text
        return client

    return do


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[tuple[str, Site]]:
    """A seeded SQLite database served by uvicorn on 127.0.0.1:<free port>; yields (base_url, site)."""
    import uvicorn

    url = f"sqlite:///{tmp_path / 'browser.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    site = seed(engine, n_items=4)
    port = _free_port()
    config = uvicorn.Config(create_app(Settings(db=url), engine=engine), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", site
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
