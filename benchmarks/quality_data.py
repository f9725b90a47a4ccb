"""Loaders for the quality benchmark: the real sets in ../shared/datasets and a synthetic crowd.

Shared by `benchmarks/quality.py` (Truthline side) and `benchmarks/quality_crowdkit.py` (crowd-kit
side) so both see the same integer indices. Standard library + NumPy only.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SET_NAMES = ["D_Product", "S_Dog", "S_Rel", "rte", "web", "ZC_in"]


@dataclass
class LabelSet:
    name: str
    items: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    n_items: int
    n_workers: int
    n_classes: int
    truth: np.ndarray  # (n_items,) int64, -1 where unknown


def load_real(name: str, root: Path = DATASETS_DIR) -> LabelSet:
    folder = root / name
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
            i = item_ids.get(r["item"])
            if i is not None:
                truth[i] = int(r["truth"])
    n_classes = int(max(labels.max(), truth.max()) + 1)
    return LabelSet(name, items, workers, labels, len(item_ids), len(worker_ids), n_classes, truth)


def available_sets(root: Path = DATASETS_DIR) -> list[str]:
    return [n for n in SET_NAMES if (root / n / "answers.csv").exists()]


def synthetic(
    n_items: int = 100_000,
    n_workers: int = 1_000,
    n_classes: int = 5,
    per_item: int = 5,
    spammer_share: float = 0.1,
    seed: int = 0,
) -> LabelSet:
    """A crowd with per-worker confusion matrices: honest workers 60-95% accurate, ~10% uniform spammers."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    acc = rng.uniform(0.6, 0.95, n_workers)
    conf = np.empty((n_workers, n_classes, n_classes))
    for w in range(n_workers):
        off = rng.dirichlet(np.ones(n_classes - 1), size=n_classes) * (1 - acc[w])
        for k in range(n_classes):
            row = np.insert(off[k], k, acc[w])
            conf[w, k] = row
    spam = rng.random(n_workers) < spammer_share
    conf[spam] = 1.0 / n_classes
    items = np.repeat(np.arange(n_items), per_item)
    # distinct workers per item
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :per_item].ravel() if n_items * n_workers <= 5e6 else _distinct(rng, n_items, n_workers, per_item)
    cum = conf[workers, truth[items]].cumsum(axis=1)
    labels = (rng.random(len(items))[:, None] > cum).sum(axis=1)
    labels = np.minimum(labels, n_classes - 1).astype(np.int64)
    return LabelSet("synthetic", items.astype(np.int64), workers.astype(np.int64), labels, n_items, n_workers, n_classes, truth.astype(np.int64))


def _distinct(rng: np.random.Generator, n_items: int, n_workers: int, per_item: int) -> np.ndarray:
    out = rng.integers(0, n_workers, (n_items, per_item))
    for _ in range(20):
        s = np.sort(out, axis=1)
        dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if not dup.any():
            break
        out[dup] = rng.integers(0, n_workers, (int(dup.sum()), per_item))
    return out.ravel()
