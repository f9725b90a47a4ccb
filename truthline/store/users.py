"""Queries on users and their tokens (tokens are stored as sha256 hex of the secret)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from truthline.store.records import User
from truthline.store.tables import tokens, users

_USER_COLS = (users.c.id, users.c.username, users.c.role, users.c.active, users.c.created_at)


def _user(row: Any) -> User | None:
    if row is None:
        return None
    return User(id=row.id, username=row.username, role=row.role, active=bool(row.active), created_at=row.created_at)


def insert_user(conn: Connection, username: str, password_hash: str | None, role: str, now: float) -> User:
    res = conn.execute(
        users.insert().values(username=username, password_hash=password_hash, role=role, active=True, created_at=now)
    )
    return User(id=int(res.inserted_primary_key[0]), username=username, role=role, active=True, created_at=now)


def get_user(conn: Connection, user_id: int) -> User | None:
    return _user(conn.execute(sa.select(*_USER_COLS).where(users.c.id == user_id)).first())


def get_user_by_name(conn: Connection, username: str) -> User | None:
    return _user(conn.execute(sa.select(*_USER_COLS).where(users.c.username == username)).first())


def password_hash(conn: Connection, username: str) -> tuple[User, str | None] | None:
    row = conn.execute(sa.select(*_USER_COLS, users.c.password_hash).where(users.c.username == username)).first()
    return None if row is None else (_user(row), row.password_hash)  # type: ignore[return-value]


def set_password_hash(conn: Connection, user_id: int, hashed: str) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(password_hash=hashed))


def first_admin(conn: Connection) -> User | None:
    q = sa.select(*_USER_COLS).where(users.c.role == "admin", users.c.active == sa.true()).order_by(users.c.id)
    return _user(conn.execute(q.limit(1)).first())


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(sa.select(*_USER_COLS).order_by(users.c.id))]  # type: ignore[misc]


def insert_token(
    conn: Connection, user_id: int, token_hash: str, kind: str, name: str, now: float, expires_at: float | None
) -> None:
    conn.execute(
        tokens.insert().values(
            user_id=user_id, token_hash=token_hash, kind=kind, name=name, created_at=now, expires_at=expires_at
        )
    )


_FOR_TOKEN = (
    sa.select(*_USER_COLS)
    .join(tokens, tokens.c.user_id == users.c.id)
    .where(
        tokens.c.token_hash == sa.bindparam("token_hash"),
        tokens.c.kind == sa.bindparam("kind"),
        sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > sa.bindparam("now")),
        users.c.active == sa.true(),
    )
    .add_columns(tokens.c.expires_at)
)


def user_and_expiry_for_token_hash(
    conn: Connection, token_hash: str, kind: str, now: float
) -> tuple[User, float | None] | None:
    """The active user of an unexpired token, and the token's expiry (None: never), so a cache never
    outlives the token. Hot path: runs on every API request not answered from the token cache."""
    row = conn.execute(_FOR_TOKEN, {"token_hash": token_hash, "kind": kind, "now": now}).first()
    return None if row is None else (_user(row), row.expires_at)  # type: ignore[return-value]


def delete_token(conn: Connection, token_hash: str, user_id: int | None = None) -> int:
    q = tokens.delete().where(tokens.c.token_hash == token_hash)
    if user_id is not None:
        q = q.where(tokens.c.user_id == user_id)
    return conn.execute(q).rowcount


def delete_expired_tokens(conn: Connection, now: float) -> int:
    return conn.execute(tokens.delete().where(tokens.c.expires_at.is_not(None), tokens.c.expires_at <= now)).rowcount


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    """Set columns of a user (active, role, password_hash)."""
    conn.execute(users.update().where(users.c.id == user_id).values(**values))


def lock_active_admins(conn: Connection) -> int:
    """How many active admins there are, with their rows locked (PostgreSQL) until the transaction ends: two
    admins deactivating each other at once would otherwise both count two and leave none."""
    q = sa.select(users.c.id).where(users.c.role == "admin", users.c.active == sa.true())
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return len(conn.execute(q).all())


def delete_tokens_of(conn: Connection, user_id: int, keep_hash: str | None = None) -> int:
    """Delete every token of a user (sessions and API tokens), except the one hashed `keep_hash`."""
    q = tokens.delete().where(tokens.c.user_id == user_id)
    if keep_hash is not None:
        q = q.where(tokens.c.token_hash != keep_hash)
    return conn.execute(q).rowcount
