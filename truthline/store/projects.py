"""Queries on projects and their members."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.fastpath import execute as run  # conn.execute, faster on SQLite
from truthline.store.records import Member, Project
from truthline.store.tables import items, project_members, projects, users


def _project(row: Any) -> Project:
    config = dict(row.config or {})
    return Project(
        id=row.id,
        name=row.name,
        task_type=row.task_type,
        labels=list(config.get("labels", [])),
        guidelines=config.get("guidelines", ""),
        overlap=row.overlap,
        pay_cents=row.pay_cents,
        status=row.status,
        lease_seconds=row.lease_seconds,
        config=config,
        created_by=row.created_by,
        created_at=row.created_at,
        items_version=row.items_version,
    )


def insert_project(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(projects.insert().values(**values)).inserted_primary_key[0])


def bump_items_version(conn: Connection, project_id: int) -> None:
    conn.execute(projects.update().where(projects.c.id == project_id)
                 .values(items_version=projects.c.items_version + 1))


def get_project(conn: Connection, project_id: int) -> Project | None:
    row = conn.execute(sa.select(projects).where(projects.c.id == project_id)).first()
    return None if row is None else _project(row)


_WITH_ROLE = (
    sa.select(projects, project_members.c.role.label("member_role"))
    .select_from(
        projects.outerjoin(
            project_members,
            sa.and_(project_members.c.project_id == projects.c.id,
                    project_members.c.user_id == sa.bindparam("user_id")),
        )
    )
    .where(projects.c.id == sa.bindparam("project_id"))
)


def project_with_role(conn: Connection, project_id: int, user_id: int) -> tuple[Project, str | None] | None:
    """The project and the user's role in it, in one indexed query (hot path of `next`)."""
    row = run(conn, _WITH_ROLE, {"project_id": project_id, "user_id": user_id}).first()
    return None if row is None else (_project(row), row.member_role)


def list_projects(conn: Connection, user_id: int | None = None, name: str | None = None) -> list[Project]:
    """Every project (user_id None) or those the user is a member of; only those named `name` if given."""
    q = sa.select(projects).order_by(projects.c.id)
    if user_id is not None:
        q = q.join(project_members, project_members.c.project_id == projects.c.id).where(
            project_members.c.user_id == user_id
        )
    if name is not None:
        q = q.where(projects.c.name == name)
    return [_project(r) for r in conn.execute(q)]


def update_project(conn: Connection, project_id: int, values: dict[str, Any]) -> None:
    conn.execute(projects.update().where(projects.c.id == project_id).values(**values))


def set_items_overlap(conn: Connection, project_id: int, overlap: int) -> None:
    """Apply a new project overlap to every item (an admin action, not a hot path)."""
    if conn.dialect.name == "postgresql":
        # lock the rows in id order first, as claims and the expiry sweep do: an UPDATE locks them in
        # the table's physical order, and a sweep holding a later item deadlocked with it (a 500 on both)
        conn.execute(sa.select(items.c.id).where(items.c.project_id == project_id).order_by(items.c.id)
                     .with_for_update())
    conn.execute(
        items.update()
        .where(items.c.project_id == project_id)
        .values(overlap=overlap, is_open=(items.c.n_labels + items.c.n_leases) < overlap)
    )


def member_role(conn: Connection, project_id: int, user_id: int) -> str | None:
    q = sa.select(project_members.c.role).where(
        project_members.c.project_id == project_id, project_members.c.user_id == user_id
    )
    return conn.execute(q).scalar()


def upsert_member(conn: Connection, project_id: int, user_id: int, role: str) -> None:
    updated = conn.execute(
        project_members.update()
        .where(project_members.c.project_id == project_id, project_members.c.user_id == user_id)
        .values(role=role)
    ).rowcount
    if not updated:
        conn.execute(project_members.insert().values(project_id=project_id, user_id=user_id, role=role))


def lock_managers(conn: Connection, project_id: int) -> list[int]:
    """The project's managers' user ids, their rows locked (PostgreSQL) until the transaction ends."""
    q = sa.select(project_members.c.user_id).where(project_members.c.project_id == project_id,
                                                     project_members.c.role == "manager")
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return [r[0] for r in conn.execute(q)]


def remove_member(conn: Connection, project_id: int, user_id: int) -> int:
    return conn.execute(
        project_members.delete().where(project_members.c.project_id == project_id, project_members.c.user_id == user_id)
    ).rowcount


def list_members(conn: Connection, project_id: int) -> list[Member]:
    q = (
        sa.select(project_members.c.user_id, users.c.username, project_members.c.role)
        .join(users, users.c.id == project_members.c.user_id)
        .where(project_members.c.project_id == project_id)
        .order_by(users.c.username)
    )
    return [Member(user_id=r.user_id, username=r.username, role=r.role) for r in conn.execute(q)]
