"""`truthline ranking PROJECT --versus`: the best sides head to head as a table of predicted win probabilities,
significant cells marked, ids that look like Rich markup printed as they are; --top and its limits."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

Cli = Callable[..., Any]  # the `cli` fixture (tests/cli/conftest.py)

# ids a terminal table must show verbatim: Rich would read "[bold]" and "[/x]" as markup
STRENGTH = {"alpha [v2]": 3, "[bold]beta": 2, "gamma[/x]": 1}


@pytest.fixture
def arena(cli: Cli, seeded: dict) -> dict:
    """A pairwise project "Arena": the stronger side wins each of its 30 pairs, by three workers' labels."""
    db, tmp = seeded["db"], seeded["tmp"]
    config = tmp / "arena.yaml"
    config.write_text("name: Arena\ntask_type: pairwise\noverlap: 3\n")
    assert cli("project", "create", "--config", config, db=db).exit_code == 0
    pairs = {}
    for rep, (x, y) in itertools.product(range(5), itertools.permutations(STRENGTH, 2)):
        pairs[f"q{len(pairs)}"] = ({"text": f"prompt {rep}", "a": f"{x} says", "b": f"{y} says", "a_id": x, "b_id": y},
                                   "a" if STRENGTH[x] > STRENGTH[y] else "b")
    items = tmp / "arena.jsonl"
    items.write_text("".join(json.dumps({"external_id": k, "data": data}) + "\n" for k, (data, _) in pairs.items()))
    assert cli("import", "Arena", items, db=db).exit_code == 0
    labels = tmp / "arena-labels.jsonl"
    labels.write_text("".join(json.dumps({"external_id": k, "worker": w, "answer": answer}) + "\n"
                              for k, (_, answer) in pairs.items() for w in ("ann", "bob", "cy")))
    result = cli("import", "Arena", labels, "--labels", "--create-workers", db=db)
    assert result.exit_code == 0, result.output
    return seeded


def _table(out: str) -> dict[str, list[str]]:
    """Row head -> its cells, from the table's body lines."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if line.startswith("│") and cells[0] in STRENGTH:
            rows[cells[0]] = cells[1:]
    return rows


def test_versus_prints_win_probabilities_with_significance_marks(cli: Cli, arena: dict) -> None:
    result = cli("ranking", "Arena", "--versus", db=arena["db"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Head to head" in out and "P(row wins)" in out
    rows = _table(out)
    assert list(rows) == ["alpha [v2]", "[bold]beta", "gamma[/x]"], out  # best first, ids verbatim
    head = next(line for line in out.splitlines() if "P(row wins)" in line)
    assert re.search(r"alpha \[v2\]\s*┃\s*\[bold\]beta\s*┃\s*gamma\[/x\]", head), head
    alpha, beta, gamma = rows.values()
    assert alpha[0] == beta[1] == gamma[2] == "·"  # a side against itself
    for cell in alpha[1:] + [beta[2]]:
        assert re.fullmatch(r">?\d+% ▲", cell), out  # the row side significantly better
    for cell in beta[:1] + gamma[:2]:
        assert re.fullmatch(r"<?\d+% ▼", cell), out
    assert (alpha[1], beta[0], alpha[2], gamma[0]) == ("97% ▲", "3% ▼", ">99% ▲", "<1% ▼")  # never a sure 100%
    assert "significantly better" in out and "3 sides ranked, the best 3 shown" in out
    assert "variance alone" not in out  # exact covariance here


def test_versus_top_and_its_limits(cli: Cli, arena: dict) -> None:
    two = cli("ranking", "Arena", "--versus", "--top", "2", db=arena["db"])
    assert two.exit_code == 0, two.output
    assert list(_table(two.stdout)) == ["alpha [v2]", "[bold]beta"] and "the best 2 shown" in two.stdout
    for bad in ("0", "51"):
        refused = cli("ranking", "Arena", "--versus", "--top", bad, db=arena["db"])
        assert refused.exit_code == 2 and "--top" in refused.output, refused.output
    alone = cli("ranking", "Arena", "--top", "3", db=arena["db"])
    assert alone.exit_code == 2 and "--versus" in alone.stderr and "Traceback" not in alone.output, alone.output
    assert cli("ranking", "Pets", "--versus", db=arena["db"]).stderr.startswith(
        "Error: PROJECT: only pairwise projects have a ranking")


def test_versus_with_nothing_to_compare(cli: Cli, arena: dict) -> None:
    config = arena["tmp"] / "fresh.yaml"
    config.write_text("name: Fresh\ntask_type: pairwise\n")
    assert cli("project", "create", "--config", config, db=arena["db"]).exit_code == 0
    empty = cli("ranking", "Fresh", "--versus", db=arena["db"])
    assert empty.exit_code == 0 and "nothing to compare head to head yet" in empty.stdout, empty.output
