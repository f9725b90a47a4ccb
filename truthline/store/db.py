"""Engines, transactions and migrations.

SQLite: WAL journal, foreign keys on, a busy timeout, and transactions we begin ourselves so writers can
take the write lock up front (`BEGIN IMMEDIATE`): that serializes claims and submits instead of failing
with "database is locked" on a deferred lock upgrade. PostgreSQL: plain pooled engine; row locks
(`FOR UPDATE SKIP LOCKED`) in the queries do the work.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from truthline.errors import NotReady

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
_write_locks: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` (sqlite:///path or postgresql+psycopg://...), configured for Truthline."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith("sqlite"):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(url, **kwargs)
    connect_args = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000, **kwargs.pop("connect_args", {})}
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    else:
        kwargs.setdefault("pool_size", 16)
        kwargs.setdefault("max_overflow", 48)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    _write_locks[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        if not memory and cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cur.execute("PRAGMA journal_mode=WAL")  # persistent; only the first connection switches
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes; WAL keeps it consistent
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            _begin_immediate(conn.connection.dbapi_connection)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _begin_immediate(dbapi_conn: Any) -> None:
    """BEGIN IMMEDIATE, polling every ~1 ms while another process holds the write lock.

    SQLite's own busy handler sleeps 1, 2, 5, ... up to 100 ms between attempts, so with several
    `serve` processes on one file a writer could wait 100 ms for a lock that was free after 1 ms. In
    WAL mode taking the write lock is the only wait a writer has, so only this statement polls."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005 + random.random() * 0.001)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it takes the write lock first (BEGIN IMMEDIATE).

    SQLite writers of one process also queue on a Python lock first: SQLite's busy handler polls with
    sleeps of up to 100 ms, which under contention wastes most of the time the database is free."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    lock = _write_locks.get(engine)
    if lock is None:
        lock = _write_locks.setdefault(engine, threading.Lock())
    with lock, engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: one consistent snapshot for several queries. SQLite's read transactions
    are snapshots; PostgreSQL's default (READ COMMITTED) gives each statement a new one, so an export's
    labels and rows, or a page's counts, could come from different moments."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


@contextmanager
def dbapi_cursor(conn: Connection, sql: str, params: Any = None) -> Iterator[Any]:
    """A DB-API cursor on `conn`'s connection (same transaction), closed after. Driver errors come out as the
    SQLAlchemy exceptions `conn.execute` raises (IntegrityError, OperationalError, ...), so callers handle
    one family whichever path ran the statement."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield cursor
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(sql, params, exc, dbapi_error) from exc
    finally:
        cursor.close()


def raw_rows(conn: Connection, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run a read on the DB-API cursor of `conn` (same transaction) and return plain tuples.

    For bulk reads only (exports, inference inputs: 10^5-10^6 rows), where building a Row per result
    row is a large share of the time. `sql` uses `?` placeholders and must be portable SQL."""
    if conn.dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    with dbapi_cursor(conn, sql, params) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision` (what `truthline db upgrade` runs)."""
    from alembic import command

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        _refuse_newer(engine, current_revision(engine), _scripts())
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _scripts() -> Any:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str | None:
    return _scripts().get_current_head()


def _refuse_newer(engine: Engine, current: str | None, scripts: Any) -> None:
    """NotReady if the database is at a migration this code does not have (a newer Truthline made it)."""
    if current is not None and current not in {s.revision for s in scripts.walk_revisions()}:
        url = engine.url.render_as_string(hide_password=True)
        raise NotReady(f"database {url} is at migration {current}, which this version of Truthline does not know "
                       f"(its latest is {scripts.get_current_head()}): a newer Truthline migrated it; upgrade Truthline")


def schema_diff(conn: Connection) -> list[Any]:
    """Differences between the database's schema and tables.py (empty when migrations match the code).
    Objects declared for another dialect only (`ddl_if(dialect=...)`) are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from truthline.store.tables import metadata

    def include(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        ddl_if = getattr(obj, "_ddl_if", None)
        return ddl_if is None or ddl_if.dialect in (None, conn.dialect.name)

    return list(compare_metadata(MigrationContext.configure(conn, opts={"include_object": include}), metadata))


def ensure_migrated(engine: Engine) -> None:
    """Raise NotReady naming the command to run unless the database is at the latest migration."""
    current = current_revision(engine)
    scripts = _scripts()  # parsed once: every CLI command and server start comes through here
    head = scripts.get_current_head()
    _refuse_newer(engine, current, scripts)
    if current != head:
        url = engine.url.render_as_string(hide_password=True)
        state = "is not migrated" if current is None else f"is at migration {current}, code expects {head}"
        raise NotReady(f"database {state}: run `truthline db upgrade --db {url}`")
