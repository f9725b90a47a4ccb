"""Helpers for the web tests: seeding a small site, reading the CSRF value."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from truthline.services import importing
from truthline.services import projects as project_service
from truthline.services import users as user_service

PASSWORD = "password123"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
GUIDELINES = "# Animals\n\nPick the **animal** in the text.\n\n<script>alert('x')</script>"


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
