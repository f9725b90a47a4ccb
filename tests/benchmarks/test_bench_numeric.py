"""Smoke test for `make bench-numeric`: a small run writes the tables, and the crowd is what it says."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from test_bench_core import load


def test_crowd_has_biased_workers_and_typos() -> None:
    numeric = load("numeric")
    labels, truth = numeric.crowd(0, n_items=2000)
    values = np.array(labels.answers)
    error = values - truth[labels.items]
    assert len(values) == 6000 and values.min() >= 0
    assert np.mean(np.abs(error) > 50) > 0.005  # typos: a tenth or ten times the count
    per_worker = np.array([np.median(error[labels.workers == w]) for w in range(50)])
    assert np.sum(np.abs(per_worker) >= 2) >= 3  # some read high or low


def test_a_small_run_writes_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    numeric = load("numeric")
    out = tmp_path / "numeric.md"
    monkeypatch.setattr(sys, "argv", ["numeric.py", "--seeds", "1", "--n-items", "1500", "--no-timing",
                                      "--out", str(out)])
    numeric.main()
    text = out.read_text()
    assert text.count("| numeric, auto |") == 2 and "Without gold" in text and "With 5% gold" in text
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines()[:20]
            if line.startswith("| ") and "---" not in line and not line.startswith("| how")}
    right = {name: float(cells[1]) for name, cells in rows.items()}
    assert right["numeric, auto"] > right["median of the labels"] > 0  # the biased workers are read as such
