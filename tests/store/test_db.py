from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from truthline.errors import NotReady
from truthline.store.db import current_revision, ensure_migrated, head_revision, make_engine, upgrade
from truthline.store.tables import metadata


def test_migrated_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    ensure_migrated(engine)


def test_migrations_build_exactly_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_upgrade_builds_a_blank_database_and_is_idempotent(blank_db_url: str) -> None:
    engine = make_engine(blank_db_url)
    with pytest.raises(NotReady):
        ensure_migrated(engine)
    upgrade(blank_db_url)
    upgrade(engine)
    ensure_migrated(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
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
