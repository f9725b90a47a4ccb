"""Pairwise projects from the command line: a spec with ties, pairs with the models that produced them, labels
from a file, `truthline ranking`, `truthline export --format preferences`, and a simulated crowd."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from truthline.services import results, users
from truthline.store.db import make_engine

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)

MODELS = ("alpha", "beta", "gamma")
STRENGTH = {"alpha": 3, "beta": 2, "gamma": 1}  # alpha beats both; beta beats gamma, but they tie now and then


def _pairs() -> dict[str, tuple[dict[str, Any], str]]:
    """external_id -> (item data, the answer every worker gives)."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for rep, (x, y) in itertools.product(range(3), itertools.permutations(MODELS, 2)):
        k = f"q{len(out) + 1}"
        win = "a" if STRENGTH[x] > STRENGTH[y] else "b"
        if rep == 2 and {x, y} == {"beta", "gamma"}:
            win = "tie"
        out[k] = ({"text": f"prompt {k}", "a": f"{x} on {k}", "b": f"{y} on {k}", "a_id": x, "b_id": y}, win)
    out["anon"] = ({"text": "who wrote these?", "a": "left", "b": "right"}, "a")  # no ids: not ranked
    return out


PAIRS = _pairs()


@pytest.fixture
def duel(cli: Cli, seeded: dict) -> dict:
    """A pairwise project "Duel" (ties allowed, overlap 3) with 19 pairs, each labelled by three workers."""
    db, tmp = seeded["db"], seeded["tmp"]
    config = tmp / "duel.yaml"
    config.write_text("name: Duel\ntask_type: pairwise\nties: true\noverlap: 3\nguidelines: Pick the better answer.\n")
    result = cli("project", "create", "--config", config, db=db)
    assert result.exit_code == 0, result.output
    items = tmp / "pairs.jsonl"
    items.write_text("".join(json.dumps({"external_id": k, "data": data}) + "\n" for k, (data, _) in PAIRS.items()))
    result = cli("import", "Duel", items, db=db)
    assert result.exit_code == 0 and f"{len(PAIRS)} created" in result.stdout, result.output
    labels = tmp / "duel-labels.jsonl"
    labels.write_text("".join(json.dumps({"external_id": k, "worker": w, "answer": answer, "active_ms": 1200}) + "\n"
                              for k, (_, answer) in PAIRS.items() for w in ("ann", "bob", "cy")))
    result = cli("import", "Duel", labels, "--labels", "--create-workers", db=db)
    assert result.exit_code == 0 and f"{3 * len(PAIRS)} labels created" in result.stdout, result.output
    return seeded


def test_project_list_says_a_pairwise_project_takes_a_b_and_maybe_tie(cli: Cli, duel: dict) -> None:
    config = duel["tmp"] / "strict.yaml"
    config.write_text("name: Strict\ntask_type: pairwise\n")
    assert cli("project", "create", "--config", config, db=duel["db"]).exit_code == 0
    listed = cli("project", "list", db=duel["db"]).stdout
    assert re.search(r"│ Duel\s*│ pairwise\s*│ a, b, tie\s*│", listed), listed
    assert re.search(r"│ Strict\s*│ pairwise\s*│ a, b\s*│", listed), listed


def test_ranking_puts_the_winning_model_first_with_intervals(cli: Cli, duel: dict) -> None:
    result = cli("ranking", "Duel", "--method", "mv", db=duel["db"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    rows = re.findall(r"^│\s*(\d+) │ (\w+)\s*│\s*([+-]\d+\.\d\d) │\s*\[([+-]\d+\.\d\d), ([+-]\d+\.\d\d)\] │"
                      r"\s*(\d+) │\s*(\d+)/(\d+)/(\d+) │$", out, re.M)
    assert [(rank, name) for rank, name, *_ in rows] == [("1", "alpha"), ("2", "beta"), ("3", "gamma")], out
    for _, _, score, lower, upper, comparisons, *_ in rows:
        assert float(lower) < float(score) < float(upper) and comparisons == "12"
    assert [tuple(r[6:]) for r in rows] == [("12", "0", "0"), ("4", "6", "2"), ("0", "10", "2")]
    assert float(rows[0][2]) > float(rows[1][2]) > float(rows[2][2])
    assert "95% interval" in out
    bars = re.findall(r"^  (alpha|beta|gamma)\s+│([ ─├┤●]+)│$", out, re.M)
    assert [name for name, _ in bars] == ["alpha", "beta", "gamma"], out
    assert all(bar.count("●") == 1 for _, bar in bars)
    centre = {name: bar.index("●") for name, bar in bars}
    assert centre["alpha"] > centre["beta"] > centre["gamma"]  # the best furthest right
    assert "1 answered item names no a_id/b_id and is not ranked." in out
    assert "over 18 items" in out


def test_ranking_of_a_project_without_labels_or_of_another_type(cli: Cli, duel: dict) -> None:
    config = duel["tmp"] / "fresh.yaml"
    config.write_text("name: Fresh\ntask_type: pairwise\n")
    assert cli("project", "create", "--config", config, db=duel["db"]).exit_code == 0
    empty = cli("ranking", "Fresh", db=duel["db"])
    assert empty.exit_code == 0 and "nothing to rank yet" in empty.stdout, empty.output
    refused = cli("ranking", "Pets", db=duel["db"])
    assert refused.exit_code == 2 and refused.stdout == "", refused.output
    assert refused.stderr.startswith("Error: PROJECT: only pairwise projects have a ranking")
    assert "classification" in refused.stderr and "Traceback" not in refused.output
    assert cli("ranking", "Nope", db=duel["db"]).exit_code == 2


def test_export_preferences_writes_chosen_and_rejected_and_skips_ties(cli: Cli, duel: dict) -> None:
    out = duel["tmp"] / "prefs.jsonl"
    result = cli("export", "Duel", "--format", "preferences", "--out", out, db=duel["db"])
    assert result.exit_code == 0 and "preferences" in result.stdout, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = [k for k, (_, answer) in PAIRS.items() if answer != "tie"]
    assert [r["external_id"] for r in rows] == expected and len(rows) == len(PAIRS) - 2
    for r in rows:
        data, answer = PAIRS[r["external_id"]]
        won, lost = ("a", "b") if answer == "a" else ("b", "a")
        assert (r["chosen"], r["rejected"]) == (data[won], data[lost])
        assert (r["chosen_id"], r["rejected_id"]) == (data.get(f"{won}_id"), data.get(f"{lost}_id"))
        assert r["prompt"] == data["text"] and 0.5 < r["confidence"] <= 1
    assert all(r["chosen_id"] == "alpha" for r in rows if "alpha" in (r["chosen_id"], r["rejected_id"]))
    no_suffix = duel["tmp"] / "prefs"  # a name without a suffix takes --format preferences too
    assert cli("export", "Duel", "--format", "preferences", "--out", no_suffix, db=duel["db"]).exit_code == 0
    assert no_suffix.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_a_jsonl_name_alone_stays_plain_jsonl(cli: Cli, duel: dict) -> None:
    out = duel["tmp"] / "all.jsonl"
    result = cli("export", "Duel", "--out", out, db=duel["db"])
    assert result.exit_code == 0 and "jsonl" in result.stdout, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(PAIRS) and {"data", "answer", "annotations"} <= set(rows[0])
    assert sum(r["answer"] == "tie" for r in rows) == 2


def test_preferences_are_refused_where_they_make_no_sense(cli: Cli, duel: dict) -> None:
    tmp, db = duel["tmp"], duel["db"]
    out = tmp / "pets-prefs.jsonl"
    refused = cli("export", "Pets", "--format", "preferences", "--out", out, db=db)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.stderr.startswith("Error: format: preferences (chosen/rejected pairs) come from pairwise projects")
    assert "classification" in refused.stderr
    assert not out.exists() and not list(tmp.glob("*.partial"))  # nothing left behind
    csv_name = cli("export", "Duel", "--format", "preferences", "--out", tmp / "prefs.csv", db=db)
    assert csv_name.exit_code == 2 and "does not match --out prefs.csv" in csv_name.stderr
    probs = cli("export", "Duel", "--format", "preferences", "--probabilities", "--out", tmp / "p.jsonl", db=db)
    assert probs.exit_code == 2 and "probabilities" in probs.stderr
    unknown = cli("export", "Duel", "--format", "dpo", "--out", tmp / "p.jsonl", db=db)
    assert unknown.exit_code == 2 and "preferences" in unknown.stderr  # listed among the formats


def test_simulate_labels_a_pairwise_project_with_position_biased_workers(cli: Cli, seeded: dict, server: str,
                                                                         tmp_path: Path) -> None:
    from truthline.services import importing, projects

    engine = make_engine(seeded["db"])
    admin = users.first_admin(engine)
    duel = projects.create_project(engine, admin, {"name": "Sim duel", "task_type": "pairwise", "overlap": 3})
    importing.import_items(engine, admin, duel.id, [
        (i + 1, {"external_id": f"s{i}", "data": {"text": f"prompt {i}", "a": f"left {i}", "b": f"right {i}",
                                                   "a_id": "m1" if i % 2 else "m2", "b_id": "m2" if i % 2 else "m1"}})
        for i in range(10)])
    truth = tmp_path / "truth.csv"
    truth.write_text("external_id,truth\n" + "".join(f"s{i},{'a' if i % 2 else 'b'}\n" for i in range(10)))
    result = cli("simulate", "Sim duel", "--workers", "6", "--spammers", "0", "--truth", truth, "--url", server,
                 db=seeded["db"])
    assert result.exit_code == 0, result.output
    assert "30 labels" in result.stdout and "0 errors" in result.stdout
    kinds = re.findall(r"│ sim\d+-\d+\s*│ (\w+)\s*│", result.stdout)
    assert len(kinds) == 6 and kinds.count("position") == 2 and kinds.count("honest") == 4, result.stdout
    rows = results.item_results(engine, admin, duel.id, method="mv")
    engine.dispose()
    assert len(rows) == 10 and all(r["n_labels"] == 3 and r["answer"] in ("a", "b") for r in rows)
    ranking = cli("ranking", "Sim duel", db=seeded["db"])  # m1 produced every true winner
    assert ranking.exit_code == 0 and re.search(r"│\s*1 │ m1\s*│", ranking.stdout), ranking.output
    blind = cli("simulate", "Sim duel", "--workers", "2", "--url", server, db=seeded["db"])  # nothing left
    assert blind.exit_code == 0 and "0 labels" in blind.stdout
