"""`truthline simulate`: a simulated crowd labels through a real server's HTTP API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from truthline.services import results, users
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)


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
    assert refused.exit_code == 2 and "classification, rating, numeric and pairwise" in refused.stderr


def test_simulate_counts_near_the_stored_truth_with_biased_noisy_and_wild_workers(cli: Cli, seeded: dict,
                                                                                 server: str) -> None:
    from truthline.services import importing, projects

    engine = make_engine(seeded["db"])
    admin = users.first_admin(engine)
    counts = projects.create_project(engine, admin, {"name": "Counts", "task_type": "numeric",
                                                     "range": {"min": 0, "max": 60}, "overlap": 5})
    truth = {f"n{i}": (7 * i) % 41 for i in range(20)}  # n0-n15 stored; n16-n19 come from --truth
    records = [(i + 1, {"external_id": k, "data": {"text": k}, **({"truth": v} if i < 16 else {}),
                        **({"gold": v} if i < 2 else {})}) for i, (k, v) in enumerate(truth.items())]
    importing.import_items(engine, admin, counts.id, records)
    importing.import_items(engine, admin, counts.id, [(21, {"external_id": "drawn", "data": {"text": "?"}})])
    given = seeded["tmp"] / "counts.csv"
    given.write_text("external_id,truth\n" + "".join(f"n{i},{truth[f'n{i}']}\n" for i in range(16, 20)))
    result = cli("simulate", "Counts", "--workers", "8", "--spammers", "0.25", "--seed", "2", "--truth", given,
                 "--url", server, db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "105 labels" in result.stdout and "0 errors" in result.stdout  # 21 items x 5
    assert "true bias" in result.stdout and "true noise" in result.stdout
    kinds = re.findall(r"│ sim\d+-\d+\s*│ (\w+)\s*│", result.stdout)
    assert len(kinds) == 8 and kinds[-2:] == ["wild", "wild"] and {"biased", "honest"} <= set(kinds), result.stdout
    rows = {r["external_id"]: r for r in results.item_results(engine, admin, counts.id, method="auto")}
    engine.dispose()
    assert all(r["n_labels"] == 5 and isinstance(r["answer"], int) for r in rows.values())
    assert 0 <= rows["drawn"]["answer"] <= 60  # no truth anywhere: drawn, and answered within the range
    off = sorted(abs(rows[k]["answer"] - v) for k, v in truth.items())
    assert off[len(off) // 2] == 0 and off[-1] <= 3, off  # the worker model sees through bias and wild values
    workers = cli("workers", "Counts", db=seeded["db"])
    assert workers.exit_code == 0 and "noise" in workers.stdout
    bad = seeded["tmp"] / "bad.csv"
    bad.write_text("external_id,truth\nn16,61\n")
    refused = cli("simulate", "Counts", "--truth", bad, "--url", server, db=seeded["db"])
    assert refused.exit_code == 2 and "line 2, truth: must be from 0 to 60" in refused.stderr
