"""The manager page's view model: one dict built from the results services, shaped for manage.html.

Kept apart from routes.py so the numbers (shares, interval clipping) are testable without HTTP.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def can_manage(user: Any, role: str | None) -> bool:
    """Admins and the project's managers see the dashboard (the services enforce the same rule)."""
    return bool(getattr(user, "is_admin", False) or role == "manager")


def build(engine: Engine, user: Any, project: Any, method: str) -> dict[str, Any]:
    raise NotImplementedError  # filled in against services.results
