"""One router module per resource; `ROUTERS` is what the app factory mounts under /api/v1."""

from __future__ import annotations

from . import auth, export, items, projects, results, tasks, users

# The labeling routes first: every request is matched against the routes in order, and next/submit are
# most of the traffic (their paths overlap no other route, so the order changes nothing else).
ROUTERS = [tasks.router, auth.router, users.router, projects.router, items.router, results.router, export.router]

__all__ = ["ROUTERS"]
