"""Storage: SQLAlchemy Core tables, queries and Alembic migrations. The only package that writes SQL."""

from truthline.store.db import ensure_migrated, make_engine, read_tx, upgrade, write_tx

__all__ = ["ensure_migrated", "make_engine", "read_tx", "upgrade", "write_tx"]
