"""Smoke test for `make bench-pairwise`: the arena is what it says, and a small run writes the table (choix,
the peer, is installed by the make target only: left out here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from test_bench_core import load


def test_arena_workers_are_careful_biased_or_random() -> None:
    pairwise = load("pairwise")
    d = pairwise.arena(0, n_items=500)
    assert len(d["answer"]) == 2500 and np.all(d["a"] != d["b"])
    right = d["answer"] == d["truth"][d["items"]]
    assert 0.6 < right.mean() < 0.95  # noisy, not a copy of the truth
    assert (d["answer"] == 0).mean() > 0.5  # the position-biased workers lean to "a"


def test_a_small_run_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pairwise = load("pairwise")
    monkeypatch.delitem(pairwise.METHODS, pairwise.CHOIX)
    out = tmp_path / "pairwise.md"
    monkeypatch.setattr(sys, "argv", ["pairwise.py", "--seeds", "1", "--big", "2000", "--out", str(out)])
    pairwise.main()
    text, candidate = out.read_text().split("## Your model always as A")
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines()
            if line.startswith("| tl:")}
    assert set(rows) == {"tl: Bradley-Terry on the labels", "tl: Crowd-BT on the labels", "tl: pairwise project, mv",
                         "tl: pairwise project, ds", "tl: pairwise project, auto"}
    mae = {name: float(cells[2]) for name, cells in rows.items()}
    assert mae["tl: pairwise project, ds"] < mae["tl: Bradley-Terry on the labels"]  # the crowd's noise is undone
    # the requester's model always first: the position-biased workers inflate it under majority vote, unless the
    # order is random
    error = {tuple(cells[:2]): float(cells[2]) for cells in (line.split(" | ") for line in candidate.splitlines()
                                                             if line.startswith("| tl:"))}
    assert len(error) == 6
    assert error[("| tl: pairwise project, mv", "imported (A first)")] > 0.2
    assert abs(error[("| tl: pairwise project, mv", "random")]) < 0.15
