"""Alembic environment, configured programmatically by `truthline.store.db.upgrade` (no alembic.ini needed).

The caller passes an open connection in `config.attributes["connection"]`; a URL in the
`sqlalchemy.url` option also works for ad-hoc `alembic` use.
"""

from __future__ import annotations

from alembic import context

from truthline.store.db import make_engine
from truthline.store.tables import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///truthline.db")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
