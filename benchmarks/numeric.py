"""Numeric benchmark: how a `numeric` project's answers compare with the mean and median of the labels.

Simulated counting crowds (5,000 items, 50 workers, 3 labels per item, 5 seeds): true counts 0-200; a fifth
of the workers read 2-5 high or low, a tenth are noisy (sd 6 instead of 1), and 2% of labels are typos (a
digit dropped or doubled: a tenth or ten times the value). Scored against the truth: how many answers are
exactly right, the mean absolute error of the number (the estimate; the mean or median for the plain
rules), how far the answers' mean confidence is from their share right (the numeric project's own claim),
and seconds. Each crowd is scored without gold and with 5% gold items (gold items not scored). The last
table times the worker model on 500k labels. Writes benchmarks/results/numeric.md and prints it.

    python benchmarks/numeric.py [--seeds N] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from truthline.tasktypes import Labels, get_task_type

CONFIG = {"range": {"min": 0}}


def crowd(seed: int, n_items: int = 5000, n_workers: int = 50, per_item: int = 3) -> tuple[Labels, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 201, n_items)
    bias = np.where(rng.random(n_workers) < 0.2, rng.choice([-5, -3, -2, 2, 3, 5], n_workers), 0)
    noise = np.where(rng.random(n_workers) < 0.1, 6.0, 1.0)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)])
    values = truth[items] + bias[workers] + rng.normal(0, noise[workers])
    typo = rng.random(len(values)) < 0.02
    values[typo] *= rng.choice([0.1, 10.0], typo.sum())
    values = np.maximum(np.rint(values), 0).astype(int)
    return Labels(items, workers, values.tolist(), n_items, n_workers), truth


def _plain(labels: Labels, truth: np.ndarray, scored: np.ndarray) -> dict[str, tuple[float, ...]]:
    values = np.array(labels.answers, dtype=float)
    order = np.lexsort((values, labels.items))
    groups = np.split(values[order], np.cumsum(np.bincount(labels.items, minlength=labels.n_items))[:-1])
    median = np.array([np.median(g) for g in groups])
    mean = np.bincount(labels.items, weights=values, minlength=labels.n_items) / np.bincount(labels.items)
    nan = float("nan")
    return {name: (float((np.rint(x) == truth)[scored].mean()), float(np.abs(x - truth)[scored].mean()), nan, 0.0)
            for name, x in (("mean of the labels (rounded)", mean), ("median of the labels", median))}


def score(labels: Labels, truth: np.ndarray, gold_share: float = 0.0, seed: int = 0) -> dict[str, tuple[float, ...]]:
    """name -> (share exactly right, MAE of the number, |mean confidence - share right|, seconds)."""
    tt = get_task_type("numeric")
    config = tt.validate_config(CONFIG)
    rng = np.random.default_rng(seed + 1000)
    gold_items = np.flatnonzero(rng.random(labels.n_items) < gold_share)
    gold = {int(i): int(truth[i]) for i in gold_items}
    scored = np.ones(labels.n_items, dtype=bool)
    scored[gold_items] = False
    out = _plain(labels, truth, scored)
    for method in ("mv", "auto"):
        start = time.perf_counter()
        inf = tt.infer(labels, config, method, gold)
        seconds = time.perf_counter() - start
        right = (np.array(inf.answers) == truth)[scored]
        gap = abs(float(np.mean(inf.confidence[scored])) - float(right.mean()))
        out[f"numeric, {method}"] = (float(right.mean()), float(np.abs(inf.estimate - truth)[scored].mean()), gap,
                                     seconds)
    return out


def _table(runs: list[dict[str, tuple[float, ...]]]) -> list[str]:
    lines = ["| how | exactly right | MAE of the number | confidence gap | seconds |", "|---|---|---|---|---|"]
    for name in runs[0]:
        acc, mae, gap, sec = (float(np.mean([r[name][k] for r in runs])) for k in range(4))
        shown = "–" if np.isnan(gap) else f"{gap:.4f}"
        lines.append(f"| {name} | {acc:.4f} | {mae:.3f} | {shown} | {sec:.2f} |")
    return lines


def _timing(seeds: int) -> list[str]:
    """The worker model on 100k items x 5 labels from 1,000 workers (500k labels), best of `seeds` runs."""
    labels, _ = crowd(0, n_items=100_000, n_workers=1000, per_item=5)
    tt = get_task_type("numeric")
    config = tt.validate_config(CONFIG)
    best = {}
    for method in ("mv", "auto"):
        times = []
        for _ in range(max(1, min(seeds, 3))):
            start = time.perf_counter()
            tt.infer(labels, config, method, {})
            times.append(time.perf_counter() - start)
        best[method] = min(times)
    return ["| method | seconds (500k labels) |", "|---|---|",
            *(f"| numeric, {m} | {s:.2f} |" for m, s in best.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-items", type=int, default=5000)
    parser.add_argument("--no-timing", action="store_true", help="skip the 500k-label timing")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "numeric.md")
    args = parser.parse_args()
    lines = ["<!-- generated by benchmarks/numeric.py; do not edit by hand -->",
             "# Numeric projects: answers and estimates against the truth", "",
             f"{args.seeds} simulated counting crowds of {args.n_items:,} items (counts 0-200), 50 workers (a fifth "
             "2-5 high or low, a tenth noisy), 3 labels per item, 2% typos (a tenth or ten times the value). Mean "
             "over the crowds. Confidence gap: |mean confidence - share exactly right|.", ""]
    for share in (0.0, 0.05):
        runs = [score(*crowd(seed, n_items=args.n_items), gold_share=share, seed=seed) for seed in range(args.seeds)]
        lines += [f"## {'Without gold' if share == 0 else f'With {share:.0%} gold items (not scored)'}", "",
                  *_table(runs), ""]
    if not args.no_timing:
        lines += ["## Speed", "", *_timing(args.seeds), ""]
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
