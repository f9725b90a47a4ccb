"""Helpers for the truth-inference tests: hypothesis strategies, a simulator and the real-data loader.

The real label sets live in `<repo>/../shared/datasets` and are never copied into the project;
tests that need them skip cleanly when the folder is absent.
"""

from __future__ import annotations

import csv
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from truthline.quality import CrowdLabels

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SET_NAMES = ["D_Product", "S_Dog", "S_Rel", "rte", "web", "ZC_in"]


@lru_cache(maxsize=None)
def load_set(name: str) -> tuple[CrowdLabels, np.ndarray]:
    """(labels, truth) for one real set; truth is -1 where unknown. Skips if the data is absent."""
    folder = DATASETS / name
    if not (folder / "answers.csv").exists():
        pytest.skip(f"real data set {name} not found under {DATASETS}")
    with open(folder / "answers.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    item_ids = {v: i for i, v in enumerate(sorted({r["item"] for r in rows}))}
    worker_ids = {v: i for i, v in enumerate(sorted({r["worker"] for r in rows}))}
    items = np.array([item_ids[r["item"]] for r in rows], dtype=np.int64)
    workers = np.array([worker_ids[r["worker"]] for r in rows], dtype=np.int64)
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    truth = np.full(len(item_ids), -1, dtype=np.int64)
    with open(folder / "truth.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["item"] in item_ids:
                truth[item_ids[r["item"]]] = int(r["truth"])
    k = int(max(labels.max(), truth.max()) + 1)
    data = CrowdLabels.from_arrays(items, workers, labels, n_items=len(item_ids), n_workers=len(worker_ids), n_classes=k)
    return data, truth


@st.composite
def crowd_labels(draw: st.DrawFn, max_items: int = 12, max_workers: int = 6, max_classes: int = 4) -> CrowdLabels:
    """Small random label sets, including unlabelled items, idle workers and repeated (item, worker) pairs."""
    k = draw(st.integers(2, max_classes))
    n_items = draw(st.integers(1, max_items))
    n_workers = draw(st.integers(1, max_workers))
    n = draw(st.integers(0, 3 * n_items))
    items = draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n))
    workers = draw(st.lists(st.integers(0, n_workers - 1), min_size=n, max_size=n))
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return CrowdLabels.from_arrays(items, workers, labels, n_items=n_items, n_workers=n_workers, n_classes=k)


def simulate(
    n_items: int = 300, n_workers: int = 20, k: int = 3, per_item: int = 5, seed: int = 0,
    acc_range: tuple[float, float] = (0.55, 0.9), spammers: int = 2,
) -> tuple[CrowdLabels, np.ndarray]:
    """A small synthetic crowd with known truth (one-coin workers plus uniform spammers)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    acc = rng.uniform(*acc_range, n_workers)
    acc[:spammers] = 1.0 / k
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)])
    correct = rng.random(len(items)) < acc[workers]
    wrong = (truth[items] + rng.integers(1, k, len(items))) % k
    labels = np.where(correct, truth[items], wrong)
    return CrowdLabels.from_arrays(items, workers, labels, n_items=n_items, n_workers=n_workers, n_classes=k), truth


def assert_distributions(post: np.ndarray, n_items: int, k: int) -> None:
    assert post.shape == (n_items, k)
    assert post.dtype == np.float64
    assert np.all(np.isfinite(post))
    assert np.all(post >= 0)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=1e-9)


def shared_errors(n_items: int = 2000, n_workers: int = 30, per_item: int = 5, seed: int = 0) -> tuple[CrowdLabels, np.ndarray]:
    """The benchmark's ZenCrowd-like `shared-errors` crowd (benchmarks/quality_data.py): per-worker
    confusion models (DS, BCC) explain its hard negatives as positives; EBCC's subtypes do not."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from quality_data import shared_errors as draw
    finally:
        sys.path.remove(str(BENCHMARKS))
    s = draw(np.random.default_rng(seed), "shared-errors", n_items, n_workers, per_item)
    data = CrowdLabels.from_arrays(s.items, s.workers, s.labels, n_items=n_items, n_workers=n_workers, n_classes=2)
    return data, s.truth


def _two_class_crowd(
    seed: int, per: int, special_share: float, special_right: float, usual_right: float
) -> tuple[CrowdLabels, np.ndarray]:
    """600 two-class items, `per` labels each from 20 workers, right with `usual_right`, except on a
    `special_share` of the items, where they are right with `special_right`."""
    rng = np.random.default_rng(seed)
    n, n_workers = 600, 20
    truth = rng.integers(0, 2, n)
    special = rng.random(n) < special_share
    items = np.repeat(np.arange(n), per)
    workers = np.concatenate([rng.choice(n_workers, per, replace=False) for _ in range(n)])
    right = rng.random(len(items)) < np.where(special[items], special_right, usual_right)
    labels = np.where(right, truth[items], 1 - truth[items])
    return CrowdLabels.from_arrays(items, workers, labels, n_items=n, n_workers=n_workers, n_classes=2), truth


def hard_items(seed: int = 0) -> tuple[CrowdLabels, np.ndarray]:
    """10 labels per item from workers 80% right, except on the 30% hard items, where everyone guesses:
    the models count ten guesses as ten independent witnesses and grow too sure of those items."""
    return _two_class_crowd(seed, per=10, special_share=0.3, special_right=0.5, usual_right=0.8)


def blind_spot(seed: int = 0) -> tuple[CrowdLabels, np.ndarray]:
    """Workers 85% right, except on the 25% blind-spot items, where three in four of them give the same
    wrong answer: the labels agree there, wrongly, so held-out labels cannot question the models'
    confidence; only gold answers show it."""
    return _two_class_crowd(seed, per=7, special_share=0.25, special_right=0.25, usual_right=0.85)
