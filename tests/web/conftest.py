"""Web test fixtures: the real app (API + pages) on the backend's `engine` fixture, driven in-process.

`browser_client()` gives a synchronous httpx client that keeps cookies like a browser and hands each request
to the ASGI app on one event-loop thread (an anyio blocking portal), as tests/api does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from truthline.api.app import create_app
from truthline.services import importing
from truthline.services import projects as project_service
from truthline.services import users as user_service
from truthline.settings import Settings

PASSWORD = "password123"
GUIDELINES = "# Animals\n\nPick the **animal** in the text.\n\n<script>alert('x')</script>"


class PortalTransport(httpx.BaseTransport):
    def __init__(self, app: Any, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return self._portal.call(send)


@dataclass
class Site:
    """A project 'Animals' (classification) with a manager, an annotator, an outsider and an admin."""

    engine: Any
    project_id: int
    admin: Any
    manager: Any
    annotator: Any


def seed(engine: Any, n_items: int = 4) -> Site:
    """Users, one classification project and `n_items` items (item a0 has a gold answer)."""
    admin = user_service.create_user(engine, None, "admin", PASSWORD, role="admin")
    manager = user_service.create_user(engine, None, "manager", PASSWORD)
    annotator = user_service.create_user(engine, None, "ann", PASSWORD)
    user_service.create_user(engine, None, "outsider", PASSWORD)
    project = project_service.create_project(
        engine,
        manager,
        {"name": "Animals", "task_type": "classification", "labels": ["cat", "dog", "bird"], "overlap": 1,
         "guidelines": GUIDELINES},
    )
    project_service.add_member(engine, manager, project.id, "ann", "annotator")
    records = [
        (i + 1, {"external_id": f"a{i}", "data": {"text": f"animal text {i}"}, "gold": "cat" if i == 0 else None})
        for i in range(n_items)
    ]
    importing.import_items(engine, manager, project.id, records)
    return Site(engine, project.id, admin, manager, annotator)


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


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="truthline-csrf" content="([0-9a-f]*)">', html)
    assert m, "page has no CSRF meta tag"
    return m.group(1)
