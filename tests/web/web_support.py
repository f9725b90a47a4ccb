"""Helpers for the web tests: seeding a small site, an in-process ASGI transport, reading the CSRF value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal

from truthline.services import importing
from truthline.services import projects as project_service
from truthline.services import users as user_service

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


def csrf_of(html: str) -> str:
    m = re.search(r'<meta name="truthline-csrf" content="([0-9a-f]*)">', html)
    assert m, "page has no CSRF meta tag"
    return m.group(1)
