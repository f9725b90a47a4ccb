"""Smoke tests for the `make bench-quality` harness: the synthetic crowds and the regimes table."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import numpy as np
import pytest

from test_bench_core import load


@pytest.fixture(scope="module")
def quality() -> ModuleType:
    return load("quality")  # it imports quality_data (a dataclass module) the regular way


def test_regimes_are_deterministic_and_well_formed(quality: ModuleType) -> None:
    data = quality
    first, again = data.regimes(seed=0), data.regimes(seed=0)
    assert [s.name for s in first] == list(data.REGIMES)
    for s, t in zip(first, again):
        assert np.array_equal(s.labels, t.labels) and np.array_equal(s.truth, t.truth)
        assert len(s.items) == len(s.workers) == len(s.labels) > 0
        assert s.labels.min() >= 0 and s.labels.max() < s.n_classes
        assert s.workers.max() < s.n_workers and s.truth.shape == (s.n_items,)
        pairs = s.items * s.n_workers + s.workers
        assert len(np.unique(pairs)) == len(pairs)  # one label per (item, worker)
    by_name = {s.name: s for s in first}
    imbalance = by_name["imbalance-9-1"].truth
    assert 0.85 < (imbalance == 0).mean() < 0.95
    assert data.regimes(seed=1)[0].labels.tolist() != first[0].labels.tolist()


def test_regimes_table_reports_auto_against_the_best_method(quality: ModuleType) -> None:
    crowds = [dataclasses.replace(s, name=f"{s.name}#0") for s in quality.regimes()[:2]]
    methods = {m: quality.TL_METHODS[m] for m in ("mv", "ds", "auto")}
    tl = {s.name: quality.run_truthline(s, 1, methods) for s in crowds}
    ck = {crowds[0].name: {"MV": {"answers": tl[crowds[0].name]["mv"]["answers"].tolist()}}}
    text = quality.render_regimes(crowds, tl, ck)
    assert "| tl:auto |" in text and "| ck:MV |" in text
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| auto − best")}
    assert set(rows) == {"| auto − best crowd-kit", "| auto − best other Truthline"}
    # the reported gap is auto's accuracy minus the best other method's, in points
    s = crowds[0]
    acc = {m: float((tl[s.name][m]["answers"] == s.truth).mean()) for m in methods}
    want = f"{(acc['auto'] - max(acc['mv'], acc['ds'])) * 100:+.1f} pt"
    assert rows["| auto − best other Truthline"].split(" | ")[1] == want
    assert rows["| auto − best crowd-kit"].split(" | ")[2].rstrip(" |") == "–"  # no crowd-kit result for the second crowd


def test_regimes_table_averages_over_seeds(quality: ModuleType) -> None:
    crowds = [dataclasses.replace(quality.regimes(seed)[0], name=f"homog-sparse#{seed}") for seed in (0, 1)]
    methods = {m: quality.TL_METHODS[m] for m in ("mv", "auto")}
    tl = {s.name: quality.run_truthline(s, 1, methods) for s in crowds}
    text = quality.render_regimes(crowds, tl, {})
    mean = np.mean([(tl[s.name]["mv"]["answers"] == s.truth).mean() for s in crowds])
    assert f"| tl:mv | {mean:.3f} |" in text and "over 2 seed(s)" in text
    header = next(line for line in text.splitlines() if line.startswith("| method |"))
    assert header == "| method | homog-sparse |"  # one column per kind, not per seed
