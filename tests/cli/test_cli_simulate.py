"""`truthline simulate`: a simulated crowd labels through a real server's HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from truthline.api.app import create_app
from truthline.cli.serving import background_server
from truthline.services import results, users
from truthline.settings import Settings
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)


@pytest.fixture
def server(seeded: dict) -> Iterator[str]:
    engine = make_engine(seeded["db"])
    with background_server(create_app(Settings(), engine=engine)) as url:
        yield url
    engine.dispose()


def test_simulate_labels_every_item_to_its_overlap(cli: Cli, seeded: dict, server: str) -> None:
    truth = seeded["tmp"] / "truth.jsonl"
    truth.write_text("".join(f'{{"external_id": "p{i}", "truth": "{["cat", "dog", "bird"][i % 3]}"}}\n' for i in range(12)))
    result = cli("simulate", "Pets", "--workers", "4", "--url", server, "--truth", truth, db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "24 labels" in result.stdout and "0 errors" in result.stdout
    engine = make_engine(seeded["db"])
    admin = users.first_admin(engine)
    rows = results.item_results(engine, admin, seeded["pid"], method="mv")
    engine.dispose()
    assert all(r["n_labels"] == 2 for r in rows)
    again = cli("simulate", "Pets", "--workers", "4", "--url", server, db=seeded["db"])  # reuses the accounts
    assert again.exit_code == 0 and "0 labels" in again.stdout


def _tokens(db_url: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = int(conn.execute(sa.text("SELECT count(*) FROM tokens")).scalar_one())
    engine.dispose()
    return n


def test_simulate_max_labels_and_tokens_are_revoked_after(cli: Cli, seeded: dict, server: str) -> None:
    before = _tokens(seeded["db"])
    result = cli("simulate", str(seeded["pid"]), "--workers", "3", "--url", server, "--max-labels", "5", db=seeded["db"])
    assert result.exit_code == 0 and "5 labels" in result.stdout
    assert _tokens(seeded["db"]) == before


def test_simulate_bad_input(cli: Cli, seeded: dict, server: str) -> None:
    truth = seeded["tmp"] / "truth.csv"
    truth.write_text("external_id,truth\np0,cat\np1,hamster\n")
    result = cli("simulate", "Pets", "--url", server, "--truth", truth, db=seeded["db"])
    assert result.exit_code == 2 and "line 3" in result.stderr and "hamster" in result.stderr
    bad_files = {"{bad\n": "not valid JSON", '{"truth": "cat"}\n': "external_id", "[1]\n": "must be an object",
                 '{"external_id": "p0", "truth": "cat"}\n\xff\n': "not UTF-8"}
    for text, words in bad_files.items():
        jsonl = seeded["tmp"] / "truth.jsonl"
        jsonl.write_bytes(text.encode("latin-1"))
        result = cli("simulate", "Pets", "--url", server, "--truth", jsonl, db=seeded["db"])
        assert result.exit_code == 2 and words in result.stderr and "Traceback" not in result.output, (text, result.output)
    result = cli("simulate", "Pets", "--workers", "0", "--url", server, db=seeded["db"])
    assert result.exit_code == 2


def test_simulate_without_a_server_says_so(cli: Cli, seeded: dict) -> None:
    result = cli("simulate", "Pets", "--workers", "2", "--url", "http://127.0.0.1:9", db=seeded["db"])
    assert result.exit_code == 1 and "cannot reach the server" in result.stderr


def test_simulate_rates_a_rating_project_and_refuses_a_multilabel_one(cli: Cli, seeded: dict, server: str) -> None:
    from truthline.services import importing, projects

    engine = make_engine(seeded["db"])
    admin = users.first_admin(engine)
    stars = projects.create_project(engine, admin, {"name": "Stars", "task_type": "rating",
                                                    "scale": {"min": 1, "max": 5}, "overlap": 2})
    projects.create_project(engine, admin, {"name": "Tags", "task_type": "multilabel", "labels": ["a", "b"]})
    importing.import_items(engine, admin, stars.id, [(1, {"external_id": "s1", "data": {"text": "x"}}),
                                                     (2, {"external_id": "s2", "data": {"text": "y"}})])
    result = cli("simulate", "Stars", "--workers", "3", "--url", server, db=seeded["db"])
    assert result.exit_code == 0 and "4 labels" in result.stdout, result.output
    rows = results.item_results(engine, admin, stars.id, method="mv")
    assert all(r["n_labels"] == 2 and r["answer"] in {"1", "2", "3", "4", "5"} for r in rows)
    engine.dispose()
    refused = cli("simulate", "Tags", "--url", server, db=seeded["db"])
    assert refused.exit_code == 2 and "classification and rating" in refused.stderr
