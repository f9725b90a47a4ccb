"""Web test fixtures: the real app (API + pages) on the backend's `engine` fixture, driven in-process.

`browser_client()` gives a synchronous httpx client that keeps cookies like a browser and hands each request
to the ASGI app on one event-loop thread (an anyio blocking portal), as tests/api does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from tests.asgi import PortalTransport
from tests.web.web_support import PASSWORD, Site, seed

from truthline.api.app import create_app
from truthline.settings import Settings


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
