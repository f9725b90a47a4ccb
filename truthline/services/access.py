"""Who may do what. Global roles: admin (everything) | member. Project roles: manager (runs the
project) | reviewer | annotator (label). Services call these before touching data."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from truthline.errors import Forbidden, NotFound
from truthline.store import projects as project_store
from truthline.store.records import Project, User

PROJECT_ROLES = ("manager", "annotator", "reviewer")
LABELING_ROLES = frozenset(PROJECT_ROLES)


def project_for(conn: Connection, actor: User, project_id: int, manage: bool = False) -> tuple[Project, str | None]:
    """The project if the actor may see it (or manage it, with manage=True), and the actor's role in it.

    Non-members get NotFound rather than Forbidden, so project ids don't leak to outsiders."""
    found = project_store.project_with_role(conn, _as_id(project_id), actor.id)
    if found is None or (found[1] is None and not actor.is_admin):
        raise NotFound(f"project {project_id} not found (or you are not a member of it)", field="project_id")
    project, role = found
    if manage and not (actor.is_admin or role == "manager"):
        raise Forbidden(f"only a manager of project {project_id} or an admin can do this; your role: {role}")
    return project, role


def require_admin(actor: User, what: str) -> None:
    if not actor.is_admin:
        raise Forbidden(f"only an admin can {what}")


MAX_ID = 2**63 - 1


def valid_id(value: object) -> bool:
    """An id the databases can look up (a 64-bit positive int); anything else cannot exist."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _as_id(value: object) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        value = int(value)
    if not valid_id(value):
        raise NotFound(f"project {value!r} not found", field="project_id")
    return value  # type: ignore[return-value]
