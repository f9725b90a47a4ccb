"""One router module per resource; the app factory mounts `ROUTERS` under /api/v1, and `items.router` (body size
limit from the settings) separately."""

from __future__ import annotations

from . import auth, export, items, projects, results, tasks, users

ROUTERS = [auth.router, users.router, projects.router, tasks.router, results.router, export.router]

__all__ = ["ROUTERS", "items"]
