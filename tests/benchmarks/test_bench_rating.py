"""Smoke test for `make bench-rating`: a small run writes the table, and the crowd is what it says."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from test_bench_core import load


def test_crowd_shifts_harsh_and_lenient_workers() -> None:
    rating = load("rating")
    labels, truth = rating.crowd(0, n_items=300)
    values = np.array([int(a) for a in labels.answers])
    assert values.min() >= 1 and values.max() <= 5 and len(values) == 900
    assert np.mean(np.abs(values - truth[labels.items])) > 0.2  # noisy, not a copy of the truth


def test_a_small_run_writes_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rating = load("rating")
    out = tmp_path / "rating.md"
    monkeypatch.setattr(sys, "argv", ["rating.py", "--seeds", "1", "--out", str(out)])
    rating.main()
    text = out.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| rating")}
    assert set(rows) == {"rating, mv", "rating, ds", "rating, auto"}
    accuracy = {name: float(line.split(" | ")[1]) for name, line in rows.items()}
    assert accuracy["rating, ds"] > accuracy["rating, mv"]  # the shifted raters are read as such
