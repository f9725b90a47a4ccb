from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from truthline.errors import NotReady
from truthline.store.db import current_revision, ensure_migrated, head_revision, make_engine, schema_diff, upgrade


def test_migrated_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    ensure_migrated(engine)


def test_migrations_build_exactly_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        assert schema_diff(conn) == []


def test_upgrade_builds_a_blank_database_and_is_idempotent(blank_db_url: str) -> None:
    engine = make_engine(blank_db_url)
    with pytest.raises(NotReady):
        ensure_migrated(engine)
    upgrade(blank_db_url)
    upgrade(engine)
    ensure_migrated(engine)
    with engine.connect() as conn:
        assert schema_diff(conn) == []
    engine.dispose()


def test_unmigrated_database_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    with pytest.raises(NotReady) as err:
        ensure_migrated(engine)
    assert "truthline db upgrade --db sqlite:///" in err.value.message
    engine.dispose()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_memory_sqlite_works(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    ensure_migrated(engine)
    engine.dispose()


def _plan(engine: Engine, stmt: sa.Select) -> str:
    compiled = stmt.compile(engine)
    params = tuple(1 for _ in compiled.positiontup or ())
    with engine.connect() as conn:
        return " | ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params))


def test_next_task_queries_seek_indexes_and_never_sort_the_pool(tmp_path: Path) -> None:
    from truthline.store import leases

    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    for name, (plain, _locking) in leases._PICKS.items():
        plan = _plan(engine, plain)
        assert "USING INDEX ix_items_open" in plan, (name, plan)
        assert "COVERING INDEX sqlite_autoindex_leases_1 (item_id=? AND user_id=?)" in plan, (name, plan)
        if name != "front":  # the front window sorts at most WINDOW rows
            assert "TEMP B-TREE" not in plan, (name, plan)
    assert "ix_leases_user_project" in _plan(engine, leases._CURSOR)
    engine.dispose()


def test_sqlite_writers_of_different_processes_wait_for_each_other_briefly(tmp_path: Path) -> None:
    """Two engines on one file behave like two `serve` processes: the second writer polls for the write
    lock instead of sleeping in SQLite's busy handler (up to 100 ms per retry)."""
    import threading
    import time

    from truthline.store.db import write_tx

    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    first, second = make_engine(url), make_engine(url)
    holding = threading.Event()

    def hold() -> None:
        with write_tx(first) as conn:
            conn.exec_driver_sql("INSERT INTO users (username, role, active, created_at) VALUES ('a', 'member', 1, 0)")
            holding.set()
            time.sleep(0.3)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait()
    started = time.perf_counter()
    with write_tx(second) as conn:
        waited = time.perf_counter() - started
        conn.exec_driver_sql("INSERT INTO users (username, role, active, created_at) VALUES ('b', 'member', 1, 0)")
    thread.join()
    assert 0.1 < waited < 0.45
    with second.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM users").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000  # restored after the poll
    first.dispose()
    second.dispose()


def test_migrations_downgrade_to_base_and_back(blank_db_url: str) -> None:
    from alembic import command

    from truthline.store.db import _alembic_config

    upgrade(blank_db_url)
    engine = make_engine(blank_db_url)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    assert current_revision(engine) is None
    upgrade(engine)
    ensure_migrated(engine)
    engine.dispose()
