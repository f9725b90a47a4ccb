"""One router module per resource; `ROUTERS` is what the app factory mounts under /api/v1."""

from __future__ import annotations

from . import auth, export, items, projects, results, tasks, users

ROUTERS = [auth.router, users.router, projects.router, items.router, tasks.router, results.router, export.router]

__all__ = ["ROUTERS"]
