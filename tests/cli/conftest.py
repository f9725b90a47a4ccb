"""CLI test fixtures: `cli(*args)` runs the real `truthline` app in-process (typer's CliRunner) against the
shared `db_url` fixture (a fresh SQLite file, and PostgreSQL when TRUTHLINE_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from truthline.cli import app

Cli = Callable[..., Any]  # returns a click testing Result


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    """cli(*args, input=None, db=None) -> click Result; `db` is passed as the global --db option."""
    for var in ("TRUTHLINE_DB", "TRUTHLINE_AS", "TRUTHLINE_ADMIN_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def run(*args: Any, input: str | None = None, db: str | None = None) -> Any:
        argv = (["--db", db] if db else []) + [str(a) for a in args]
        return runner.invoke(app, argv, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def seeded(cli: Cli, db_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A database with an admin (via `truthline init`), a project "Pets" and 12 imported items."""
    result = cli("init", "--password", "correct-horse", db=db_url)
    assert result.exit_code == 0, result.output
    config = tmp_path / "project.yaml"
    config.write_text("name: Pets\ntask_type: classification\nlabels: [cat, dog, bird]\noverlap: 2\n")
    assert cli("project", "create", "--config", config, db=db_url).exit_code == 0
    items = tmp_path / "items.jsonl"
    items.write_text("".join(
        f'{{"external_id": "p{i}", "data": {{"text": "pet {i}"}}, "truth": "{["cat", "dog", "bird"][i % 3]}"}}\n'
        for i in range(12)
    ))
    result = cli("import", "Pets", items, db=db_url)
    assert result.exit_code == 0, result.output
    from truthline.services import projects, users
    from truthline.store.db import make_engine

    engine = make_engine(db_url)
    pid = projects.list_projects(engine, users.first_admin(engine))[0].id  # type: ignore[arg-type]
    engine.dispose()
    yield {"db": db_url, "tmp": tmp_path, "items": items, "config": config, "pid": pid}


@pytest.fixture
def server(seeded: dict[str, Any]) -> Iterator[str]:
    """A real API server on 127.0.0.1 over the seeded database (simulate labels through it)."""
    from truthline.api.app import create_app
    from truthline.cli.serving import background_server
    from truthline.settings import Settings
    from truthline.store.db import make_engine

    engine = make_engine(seeded["db"])
    with background_server(create_app(Settings(), engine=engine)) as url:
        yield url
    engine.dispose()
