"""Shared fixtures. Every test that asks for `db_url` or `engine` runs on SQLite (a fresh file per test)
and again on PostgreSQL when TRUTHLINE_TEST_DATABASE_URL is set (a fresh schema per test, dropped after).
Migrations run for real in both cases. See /work/notes/backend.md for the fixture list."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from truthline.services import projects as project_service
from truthline.services import users as user_service
from truthline.services.importing import import_items
from truthline.store.db import make_engine, upgrade
from truthline.store.records import Project, User
from truthline.store.tables import metadata

PG_URL = os.environ.get("TRUTHLINE_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="set TRUTHLINE_TEST_DATABASE_URL=postgresql+psycopg://... to also test on PostgreSQL"))]


@dataclass(frozen=True)
class Person:
    """A user plus an API token for it."""

    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with production parameters costs ~50 ms per hash; tests don't need that."""
    monkeypatch.setattr(user_service, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class _PgSchemas:
    """Migrated PostgreSQL schemas for tests. Migrating costs ~0.2 s of DDL on PostgreSQL, so a schema is
    emptied after its test (DELETE from every table: milliseconds) and reused; a schema that cannot be
    emptied (a test left a transaction open) is set aside. All are dropped when the session ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = make_engine(url, pool_size=1, max_overflow=2)
        self.free: list[str] = []
        self.all: list[str] = []

    def url_for(self, schema: str) -> str:
        return f"{self.url}{'&' if '?' in self.url else '?'}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"

    def blank(self) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self.all.append(schema)
        return schema

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        schema = self.blank()
        upgrade(self.url_for(schema))
        return schema

    def give_back(self, schema: str) -> None:
        try:
            with self.admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                for table in reversed(metadata.sorted_tables):
                    conn.exec_driver_sql(f"DELETE FROM {schema}.{table.name}")
        except sa.exc.OperationalError:
            return  # still locked by a leaked connection: leave it for the final drop
        self.free.append(schema)

    def close(self) -> None:
        if self.all:
            with self.admin.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {', '.join(self.all)} CASCADE")
        self.admin.dispose()


@pytest.fixture(scope="session")
def _pg() -> Iterator[_PgSchemas | None]:
    if not PG_URL:
        yield None
        return
    schemas = _PgSchemas(PG_URL)
    yield schemas
    schemas.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (a fresh database in ~1 ms)."""
    path = tmp_path_factory.mktemp("template") / "truthline.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _pg: _PgSchemas | None,
           _sqlite_template: Path) -> Iterator[str]:
    """URL of a fresh, migrated database: a SQLite file in tmp_path, or a PostgreSQL schema (via
    search_path in the URL, so engines made from the URL by other code land in the same schema)."""
    if request.param == "sqlite":
        path = tmp_path / "truthline.db"
        shutil.copyfile(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert _pg is not None
    schema = _pg.take()
    yield _pg.url_for(schema)
    _pg.give_back(schema)


@pytest.fixture(params=BACKENDS)
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path, _pg: _PgSchemas | None) -> str:
    """URL of an empty, unmigrated database (to test migrations themselves)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    assert _pg is not None
    return _pg.url_for(_pg.blank())


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_person(engine: Engine) -> Callable[..., Person]:
    """make_person(username=None, role="member", password="password123") -> Person (user + API token)."""
    n = count(1)

    def make(username: str | None = None, role: str = "member", password: str | None = "password123") -> Person:
        name = username or f"user{next(n)}"
        user = user_service.create_user(engine, None, name, password, role=role)
        return Person(user, user_service.create_token(engine, user))

    return make


@pytest.fixture
def admin(make_person: Callable[..., Person]) -> Person:
    """An admin user ("admin", password "password123") with an API token."""
    return make_person("admin", role="admin")


@pytest.fixture
def make_project(engine: Engine, admin: Person) -> Callable[..., Project]:
    """make_project(actor=admin.user, **spec) -> Project; defaults: classification, labels cat/dog/bird."""

    def make(actor: User | None = None, **spec: Any) -> Project:
        spec = {"name": "Pets", "task_type": "classification", "labels": ["cat", "dog", "bird"], **spec}
        return project_service.create_project(engine, actor or admin.user, spec)

    return make


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    """A classification project (labels cat/dog/bird, overlap 1) owned by `admin`, with no items."""
    return make_project()


@pytest.fixture
def add_items(engine: Engine, admin: Person) -> Callable[..., None]:
    """add_items(project, n, start=0, priority=0, **fields): import items "item-<i>" with {"text": "text <i>"}."""

    def add(project: Project, n: int, start: int = 0, priority: int = 0, **fields: Any) -> None:
        records = [(i + 1, {"external_id": f"item-{i}", "data": {"text": f"text {i}"}, "priority": priority, **fields})
                   for i in range(start, start + n)]
        import_items(engine, admin.user, project.id, records)

    return add


@pytest.fixture
def make_annotator(engine: Engine, admin: Person, make_person: Callable[..., Person]) -> Callable[..., Person]:
    """make_annotator(project, role="annotator", username=None) -> Person who is a member of the project."""

    def make(project: Project, role: str = "annotator", username: str | None = None) -> Person:
        person = make_person(username)
        project_service.add_member(engine, admin.user, project.id, person.user.username, role)
        return person

    return make


@pytest.fixture
def annotator(project: Project, make_annotator: Callable[..., Person]) -> Person:
    """An annotator of `project`."""
    return make_annotator(project)


@pytest.fixture
def count_rows(engine: Engine) -> Callable[..., dict[str, int]]:
    """count_rows("items", "annotations", ...) -> {table: rows}, to assert failures wrote nothing."""

    def counts(*tables: str) -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}

    return counts


@pytest.fixture
def label_all(engine: Engine) -> Callable[..., int]:
    """label_all(project, people, answer=lambda person, task: "cat") -> labels submitted: each person
    takes tasks (next + submit) until nothing is left for them."""
    from truthline.services.tasks import next_task, submit

    def run(project: Project, people: list[Person], answer: Callable[[Person, Any], Any] | None = None) -> int:
        n = 0
        for person in people:
            while (task := next_task(engine, person.user, project.id)) is not None:
                submit(engine, person.user, task.lease_id, answer(person, task) if answer else project.labels[0], 1000)
                n += 1
        return n

    return run
