"""Pairwise benchmark: how well a `pairwise` project ranks the models behind its candidates, against ranking
on the raw labels (win rate; Bradley-Terry by choix, the open BT library; Truthline's Crowd-BT).

Simulated arenas (16 models with N(0, 1) strengths, 4,000 prompts each comparing two of them, 5 labels per
prompt from 60 workers, 5 seeds). Each prompt's true preference is drawn from Bradley-Terry on the true
strengths. Workers: 60% careful (right 85-95% of the time), 20% position-biased (answer "a" four times in five,
else right), 20% clicking at random. Scored against the true strengths: Kendall's tau of the order, the mean
absolute error of the centred scores, the share of models whose 95% interval holds their true strength, and
(for the project's per-prompt answers) accuracy against the true preferences. A large run (200k prompts, 50
models, 1M labels) times each method. A second table puts the requester's model first in every prompt and shows
what the position-biased workers do to its score, with the candidates in that order and in random order. Writes benchmarks/results/pairwise.md and prints it.

    python benchmarks/pairwise.py [--seeds N] [--big PROMPTS] [--out FILE]     (choix: pip install choix)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from truthline.quality.pairwise import bradley_terry, crowd_bradley_terry
from truthline.tasktypes import Labels, get_task_type
from truthline.tasktypes.pairwise import rank, strength_informed

RIDGE = 0.1  # Truthline's default prior precision; choix's alpha is the same N(0, 1/alpha) prior


def arena(seed: int, n_models: int = 16, n_items: int = 4000, n_workers: int = 60,
          per_item: int = 5, candidate: bool = False, random_order: bool = False) -> dict[str, Any]:
    """candidate: model 0 (the requester's) is every prompt's A, against one of the others; random_order: each
    label's worker saw the two in an order of its own (a coin per label), so "first" is A or B by that coin."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_models)
    if candidate:  # an average model: a score pulled toward 0 by noisy labels stays right, only bias moves it
        strength[0] = 0.0
        strength[1:] -= strength[1:].mean()
    strength -= strength.mean()
    a = np.zeros(n_items, np.int64) if candidate else rng.integers(0, n_models, n_items)
    b = (a + rng.integers(1, n_models, n_items)) % n_models
    truth = (rng.random(n_items) >= 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))).astype(np.int64)  # 1: b
    kind = rng.choice(3, n_workers, p=[0.6, 0.2, 0.2])  # careful, position-biased, random
    skill = rng.uniform(0.85, 0.95, n_workers)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False) for _ in range(n_items)])
    t = truth[items]
    right = np.where(rng.random(len(items)) < skill[workers], t, 1 - t)
    first = rng.integers(0, 2, len(items)) if random_order else np.zeros(len(items), np.int64)  # 1: B shown first
    biased = np.where(rng.random(len(items)) < 0.8, first, t)
    answer = np.select([kind[workers] == 0, kind[workers] == 1], [right, biased], rng.integers(0, 2, len(items)))
    return {"strength": strength, "a": a, "b": b, "truth": truth, "items": items, "workers": workers,
            "answer": answer, "n_workers": n_workers}


def _labels(d: dict[str, Any]) -> Labels:
    return Labels(d["items"], d["workers"], ["ab"[k] for k in d["answer"].tolist()], len(d["a"]), d["n_workers"])


def _raw(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every label as its own comparison: (side a, side b, winner 0/1)."""
    return d["a"][d["items"]], d["b"][d["items"]], d["answer"]


def win_rate(d: dict[str, Any]) -> dict[str, Any]:
    la, lb, w = _raw(d)
    n = len(d["strength"])
    won = np.bincount(la, w == 0, n) + np.bincount(lb, w == 1, n)
    played = np.bincount(la, minlength=n) + np.bincount(lb, minlength=n)
    return {"scores": won / np.maximum(played, 1)}


def choix_bt(d: dict[str, Any]) -> dict[str, Any]:
    import choix

    la, lb, w = _raw(d)
    pairs = np.where(w[:, None] == 0, np.c_[la, lb], np.c_[lb, la])
    s = choix.opt_pairwise(len(d["strength"]), pairs.tolist(), alpha=RIDGE)
    return {"scores": s - s.mean(), "log_strengths": True}


def truthline_bt(d: dict[str, Any]) -> dict[str, Any]:
    la, lb, w = _raw(d)
    fit = bradley_terry(la, lb, w, n_items=len(d["strength"]), ridge=RIDGE)
    return {"scores": fit.scores, "lower": fit.lower, "upper": fit.upper}


def crowd_bt(d: dict[str, Any]) -> dict[str, Any]:
    la, lb, w = _raw(d)
    fit = crowd_bradley_terry(la, lb, w, d["workers"], n_items=len(d["strength"]), n_workers=d["n_workers"],
                              ridge=RIDGE)
    return {"scores": fit.scores, "lower": fit.lower, "upper": fit.upper}


def project(method: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What a pairwise project reports: truth inference per prompt, `rank` on its posteriors, and each prompt's
    answer given the crowd and the strengths (`strength_informed`, as results and exports give it)."""
    tt = get_task_type("pairwise")
    config = tt.validate_config({})

    def run(d: dict[str, Any]) -> dict[str, Any]:
        crowd = tt.infer(_labels(d), config, method, {})
        r = rank(d["a"], d["b"], [str(k) for k in range(len(d["strength"]))], crowd.probabilities)
        inf = strength_informed(crowd, r, config["labels"], ())
        order = np.array([int(x) for x in r.ids])
        out = {name: np.empty(len(order)) for name in ("scores", "lower", "upper")}
        for name, values in (("scores", r.scores), ("lower", r.lower), ("upper", r.upper)):
            out[name][order] = values
        answers = np.array([0 if x == "a" else 1 for x in inf.answers])
        return {**out, "item_accuracy": float((answers == d["truth"]).mean())}
    return run


def oracle(d: dict[str, Any]) -> dict[str, Any]:
    """BT on the true per-prompt preferences: the best any ranking of these prompts can do."""
    probs = np.eye(2)[d["truth"]]
    r = rank(d["a"], d["b"], [str(k) for k in range(len(d["strength"]))], probs)
    order = np.array([int(x) for x in r.ids])
    out = {name: np.empty(len(order)) for name in ("scores", "lower", "upper")}
    for name, values in (("scores", r.scores), ("lower", r.lower), ("upper", r.upper)):
        out[name][order] = values
    return out


CHOIX = "choix: Bradley-Terry on the labels"
METHODS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "win rate on the labels": win_rate,
    CHOIX: choix_bt,
    "tl: Bradley-Terry on the labels": truthline_bt,
    "tl: Crowd-BT on the labels": crowd_bt,
    "tl: pairwise project, mv": project("mv"),
    "tl: pairwise project, ds": project("ds"),
    "tl: pairwise project, auto": project("auto"),
    "oracle: BT on the true preferences": oracle,
}


# "Your model always as A": the rows of the second table, each run with the candidates in the imported order and
# in random order
CANDIDATE_METHODS = ("tl: Bradley-Terry on the labels", "tl: pairwise project, mv", "tl: pairwise project, ds")


def candidate_error(seeds: int) -> dict[tuple[str, bool], dict[str, float]]:
    """(method, random order) -> the candidate's signed score error (what position bias does to it), the MAE
    over all models, and the candidate's interval coverage, means over seeds."""
    out: dict[tuple[str, bool], dict[str, float]] = {}
    for random_order in (False, True):
        for name in CANDIDATE_METHODS:
            rows = []
            for seed in range(seeds):
                d = arena(seed, candidate=True, random_order=random_order)
                res = METHODS[name](d)
                s, true = res["scores"], d["strength"]
                rows.append((s[0] - true[0], np.abs(s - true).mean(), res["lower"][0] <= true[0] <= res["upper"][0]))
            error, mae, held = (float(np.mean(col)) for col in zip(*rows, strict=True))
            out[(name, random_order)] = {"error": error, "mae": mae, "coverage": held}
    return out


def score(d: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for name, fn in METHODS.items():
        start = time.perf_counter()
        res = fn(d)
        seconds = time.perf_counter() - start
        s = res["scores"]
        row = {"tau": float(kendalltau(s, d["strength"])[0]), "seconds": seconds}
        if "lower" in res or res.get("log_strengths"):  # scores on the strengths' own scale (not win rates)
            row["mae"] = float(np.abs(s - d["strength"]).mean())
        if "lower" in res:
            row["coverage"] = float(((res["lower"] <= d["strength"]) & (d["strength"] <= res["upper"])).mean())
        if "item_accuracy" in res:
            row["item_accuracy"] = res["item_accuracy"]
        out[name] = row
    return out


def _cell(rows: list[dict[str, float]], key: str, fmt: str) -> str:
    return "–" if key not in rows[0] else format(float(np.mean([r[key] for r in rows])), fmt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--big", type=int, default=200_000, help="prompts in the timed large run (0: none)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pairwise.md")
    args = parser.parse_args()
    runs = [score(arena(seed)) for seed in range(args.seeds)]
    big = arena(100, n_models=50, n_items=args.big, n_workers=1000) if args.big else None
    big_times = {}
    for name, fn in METHODS.items():
        if big is None or name.startswith(("win rate", "oracle")):
            continue
        start = time.perf_counter()
        fn(big)
        big_times[name] = time.perf_counter() - start
    lines = [
        "<!-- generated by benchmarks/pairwise.py; do not edit by hand -->",
        "# Pairwise: ranking the models behind the candidates",
        "",
        f"Simulated arenas: 16 models, 4,000 prompts, 5 labels per prompt from 60 workers (60% careful, 20% "
        f"answering \"a\" four times in five, 20% random), {args.seeds} seeds; means over seeds. tau: Kendall's "
        "tau against the true strengths; MAE: mean absolute error of the centred scores; coverage: share of "
        "models whose 95% interval holds the true strength; item accuracy: the project's answer per prompt "
        "(the crowd's evidence weighed with the strengths, as results and exports give it) against the true "
        "preference. `choix` is choix 0.4.1's `opt_pairwise` with the same N(0, 10) prior.",
        "",
        "| method | tau | MAE | 95% coverage | item accuracy | seconds | seconds, 1M labels |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in METHODS:
        rows = [run[name] for run in runs]
        big_cell = f"{big_times[name]:.2f}" if name in big_times else "–"
        lines.append(f"| {name} | {_cell(rows, 'tau', '.3f')} | {_cell(rows, 'mae', '.3f')} | "
                     f"{_cell(rows, 'coverage', '.2f')} | {_cell(rows, 'item_accuracy', '.3f')} | "
                     f"{_cell(rows, 'seconds', '.3f')} | {big_cell} |")
    lines.append("")
    if CHOIX in METHODS:
        same = [np.abs(choix_bt(d)["scores"] - truthline_bt(d)["scores"]).max() for d in (arena(s) for s in range(2))]
        lines.append(f"Cross-check: Truthline's and choix's Bradley-Terry scores on the same labels differ by at most "
                     f"{max(same):.1e}.")
    if big is not None:
        lines.append(f"Large run: {args.big:,} prompts, 50 models, 1,000 workers, {len(big['items']):,} labels; the "
                     "project rows include truth inference.")
    lines += [
        "",
        "## Your model always as A: position bias, and random order",
        "",
        "The same crowd, but every prompt puts model 0 (the requester's, an average model: true score 0) as candidate "
        "A against one of the other 15. "
        "Shown in that order, the workers who answer \"a\" four times in five hand model 0 wins; in random order "
        "(`random_order: true`, the default: each label's worker sees an order of its own) their lean falls on both "
        "sides alike. candidate error: model 0's estimated minus true score (signed: what the bias does to it); "
        "candidate coverage: share of seeds whose 95% interval holds model 0's true strength.",
        "",
        "| method | order shown | candidate error | MAE, all models | candidate coverage |",
        "|---|---|---|---|---|",
    ]
    for (name, random_order), row in candidate_error(args.seeds).items():
        lines.append(f"| {name} | {'random' if random_order else 'imported (A first)'} | {row['error']:+.3f} | "
                     f"{row['mae']:.3f} | {row['coverage']:.2f} |")
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
