"""API test fixtures: the real app on the backend's real database fixture, driven in-process.

`api` is a plain synchronous `httpx.Client` whose transport hands each request to the ASGI app on one
event-loop thread (an anyio blocking portal); no sockets, no TestClient. App exceptions are not swallowed:
a handler that crashes fails the test even though the client would have seen a tidy 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from tests.asgi import PortalTransport
from truthline.api.app import create_app
from truthline.services import projects as project_service
from truthline.services import users as user_service
from truthline.settings import Settings

SMALL_UPLOAD = 4096  # bytes: lets tests hit the upload limit cheaply
SMALL_BATCH = 50


@dataclass
class World:
    """Users (with API tokens) and one classification project with a manager and two annotators."""

    admin_token: str
    manager_token: str
    ann_token: str
    ann2_token: str
    outsider_token: str
    project_id: int


@pytest.fixture
def api_settings() -> Settings:
    return Settings(max_upload_bytes=SMALL_UPLOAD, max_batch_items=SMALL_BATCH, default_method="auto")


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as p:
        yield p


@pytest.fixture
def app(engine: Any, api_settings: Settings) -> Any:
    return create_app(api_settings, engine=engine)


@pytest.fixture
def make_client(app: Any, portal: BlockingPortal) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def make(token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(transport=PortalTransport(app, portal), base_url="http://testserver/api/v1", headers=headers)
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def world(engine: Any) -> World:
    def user(name: str, role: str = "member") -> tuple[Any, str]:
        u = user_service.create_user(engine, None, name, "password123", role=role)
        return u, user_service.create_token(engine, u)

    admin, admin_token = user("admin", "admin")
    manager, manager_token = user("manager")
    _, ann_token = user("ann")
    _, ann2_token = user("ann2")
    _, outsider_token = user("outsider")
    project = project_service.create_project(
        engine, manager, {"name": "Sentiment", "task_type": "classification", "labels": ["pos", "neg"], "overlap": 2}
    )
    project_service.add_member(engine, manager, project.id, "ann", "annotator")
    project_service.add_member(engine, manager, project.id, "ann2", "annotator")
    return World(admin_token, manager_token, ann_token, ann2_token, outsider_token, project.id)


@pytest.fixture
def root(make_client: Any, world: World) -> httpx.Client:
    return make_client(world.admin_token)


@pytest.fixture
def manager(make_client: Any, world: World) -> httpx.Client:
    return make_client(world.manager_token)


@pytest.fixture
def ann(make_client: Any, world: World) -> httpx.Client:
    return make_client(world.ann_token)


@pytest.fixture
def ann2(make_client: Any, world: World) -> httpx.Client:
    return make_client(world.ann2_token)


@pytest.fixture
def outsider(make_client: Any, world: World) -> httpx.Client:
    return make_client(world.outsider_token)


@pytest.fixture
def anon(make_client: Any) -> httpx.Client:
    return make_client(None)


def check_error(response: httpx.Response, status: int | None = None, *, field: str | None = None, line: int | None = None) -> dict[str, Any]:
    """Every error: a 4xx, JSON, the one shape; optionally naming `field` / `line` (top level or in details)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field", "line", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert err["field"] is None or isinstance(err["field"], str)
    assert err["line"] is None or isinstance(err["line"], int)
    assert isinstance(err["details"], list)
    for d in err["details"]:
        assert set(d) == {"message", "field", "line"} and isinstance(d["message"], str)
    places = [(err["field"], err["line"])] + [(d["field"], d["line"]) for d in err["details"]]
    if field is not None:
        assert any(f == field for f, _ in places), (field, err)
    if line is not None:
        assert any(n == line for _, n in places), (line, err)
    return err


@pytest.fixture(name="assert_error")
def assert_error_fixture() -> Any:
    """`assert_error(response, status, field=..., line=...)`: see check_error."""
    return check_error
