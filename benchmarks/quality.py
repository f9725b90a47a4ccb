"""Quality benchmark: Truthline's truth-inference methods against crowd-kit 1.4.2.

Runs every Truthline method on each real set in ../shared/datasets (every folder holding answers.csv
and truth.csv; skipped cleanly if absent), on a synthetic crowd (100k items, 1,000 workers, 5 classes,
~10% spammers, 5 labels per item = 500k labels) and on twelve small synthetic crowds of different kinds
(quality_data.REGIMES, 3 seeds each) and times `auto` on four wide crowds (many classes or workers);
runs crowd-kit's methods on the same integer arrays in a separate virtualenv (subprocess, so Truthline
never depends on it); writes benchmarks/results/quality.md (with issue #3's targets checked per set)
and prints it.

    python benchmarks/quality.py [--crowdkit-python .venv-bench/bin/python] [--no-crowdkit]
                                 [--crowdkit-glad-synthetic] [--no-synthetic] [--no-regimes] [--no-wide]
                                 [--datasets DIR] [--out FILE]

crowd-kit results on the real sets are cached under ~/.cache/truthline-bench (keyed by the data's
hash), since its GLAD and MACE take minutes; delete that folder to re-measure them. On the synthetic
set crowd-kit's MV, Wawa, one-coin and DS are re-run every time so speed ratios come from one run.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from quality_data import (  # noqa: E402, F401 (WIDE: for the tests)
    DATASETS_DIR, REGIMES, WIDE, LabelSet, available_sets, load_real, published_ebcc, regimes, synthetic,
    wide_crowds,
)

from truthline.quality import CrowdLabels, aggregate, auto, calibration_error  # noqa: E402
from truthline.quality.workers import worker_stats  # noqa: E402

RESULTS = HERE / "results" / "quality.md"
CACHE = Path(os.environ.get("TRUTHLINE_BENCH_CACHE", Path.home() / ".cache" / "truthline-bench"))
# row name -> (Truthline method, options); "ds_ml" is DS without smoothing, run to a tight tolerance by
# plain EM steps (no SQUAREM): the maximum-likelihood configuration and algorithm crowd-kit's DawidSkene uses
TL_METHODS = {
    "mv": ("mv", {}), "wmv": ("wmv", {}), "one_coin": ("one_coin", {}), "ds": ("ds", {}),
    "ds_ml": ("ds", {"smoothing": 0.0, "tol": 1e-8, "accelerate": False}), "glad": ("glad", {}), "mace": ("mace", {}),
    "bcc": ("bcc", {}), "ebcc": ("ebcc", {}), "auto": ("auto", {}),
}
# every categorical aggregator crowd-kit 1.4.2 has (KOS only on two-class sets)
CK_METHODS = ["MV", "Wawa", "OneCoinDS", "DS", "DS100", "GLAD", "MACE", "ZBS", "KOS", "MMSR"]
TWO_CLASS_CK = ("KOS",)
CK_SYNTHETIC = ["MV", "Wawa", "OneCoinDS", "DS"]
SLOW_CK = ("GLAD", "MACE")  # crowd-kit's GLAD takes 381 s per iteration on 500k labels
# on the small synthetic crowds: crowd-kit's GLAD would add ~20 min to the first run, so it is left out
CK_REGIMES = ["MV", "Wawa", "OneCoinDS", "DS", "MACE"]
# Truthline row <-> crowd-kit method implementing the same model (for time ratios and cross-checks)
PAIRS = {
    "mv": "MV", "wmv": "Wawa", "one_coin": "OneCoinDS", "ds": "DS", "ds_ml": "DS100", "glad": "GLAD", "mace": "MACE",
}
# the same auto without its tempering, for the confidence tables
UNTEMPERED = {"auto_untempered": ("auto", {"calibrate": False})}
# issue #3: auto within this many accuracy points of the best crowd-kit method on every real set
TARGET_GAP_PT = 0.5


def _digest(s: LabelSet) -> str:
    h = hashlib.sha256()
    for a in (s.items, s.workers, s.labels):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def run_crowdkit(sets: list[LabelSet], python: str, methods_for: dict[str, list[str]], repeats: int) -> dict:
    """crowd-kit answers and times per set and method, from the cache or a subprocess."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in sets:
            key = CACHE / f"{s.name}-{_digest(s)}.json"
            cached = json.loads(key.read_text()) if key.exists() else {}
            if s.name == "synthetic":  # re-measured each run: the speed ratio must come from the same run
                cached = {m: v for m, v in cached.items() if m not in CK_SYNTHETIC}
            todo = [m for m in methods_for[s.name] if m not in cached]
            if todo:
                npz = Path(tmp) / f"{s.name}.npz"
                np.savez(npz, items=s.items, workers=s.workers, labels=s.labels, n_items=s.n_items)
                res = Path(tmp) / f"{s.name}.json"
                print(f"crowd-kit on {s.name}: {', '.join(todo)} ...", file=sys.stderr, flush=True)
                reps = f"--repeats={repeats if s.name == 'synthetic' else 1}"
                subprocess.run(
                    [python, str(HERE / "quality_crowdkit.py"), str(res), str(npz), f"--methods={','.join(todo)}", reps],
                    check=True,
                )
                cached.update(json.loads(res.read_text())[s.name])
                key.write_text(json.dumps(cached))
            out[s.name] = {m: cached[m] for m in methods_for[s.name] if m in cached}
    return out


def run_truthline(s: LabelSet, repeats: int, methods: dict = TL_METHODS) -> dict:
    data = CrowdLabels.from_arrays(
        s.items, s.workers, s.labels, n_items=s.n_items, n_workers=s.n_workers, n_classes=s.n_classes
    )
    out = {}
    for name, (method, opts) in methods.items():
        times, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            agg = aggregate(data, method, **opts)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        known = s.truth >= 0
        post = agg.posteriors[known]
        out[name] = {"answers": agg.answers, "seconds": float(min(times)), "cpu_seconds": float(min(cpu)),
                     "iterations": agg.iterations, "confidence": post.max(axis=1),
                     "right": agg.answers[known] == s.truth[known],
                     "p_truth": post[np.arange(len(post)), s.truth[known]],
                     "temperature": float(agg.worker_params.get("temperature", [1.0])[0]),
                     "worker_error": worker_accuracy_error(data, agg.posteriors, s.truth)}
        print(f"  truthline {s.name} {name}: {min(times):.3f}s", file=sys.stderr, flush=True)
    return out


def accuracy(answers: np.ndarray, truth: np.ndarray) -> float:
    m = truth >= 0
    return float((np.asarray(answers)[m] == truth[m]).mean())


def balanced_accuracy(answers: np.ndarray, truth: np.ndarray) -> float:
    """Mean over the true classes of the share of their items answered right (recall): unlike accuracy,
    a method gains nothing by leaning toward the majority class."""
    answers = np.asarray(answers)
    return float(np.mean([(answers[truth == c] == c).mean() for c in np.unique(truth[truth >= 0])]))


def worker_accuracy_error(data: CrowdLabels, posteriors: np.ndarray, truth: np.ndarray, min_labels: int = 20) -> float:
    """Mean absolute gap between a worker's accuracy in the workers table (scored against `posteriors`,
    truth unseen) and its share right on the items with truth, over workers with `min_labels`+ such labels."""
    has = truth[data.items] >= 0
    n = np.bincount(data.workers[has], minlength=data.n_workers)
    right = np.bincount(data.workers[has], weights=data.labels[has] == truth[data.items[has]], minlength=data.n_workers)
    judged = n >= min_labels
    if not judged.any():
        return float("nan")
    estimate = worker_stats(data, posteriors).accuracy
    return float(np.abs(estimate[judged] - right[judged] / n[judged]).mean())


def render_calibration(names: list[str], real: list[str], tl: dict) -> list[str]:
    """How honest each method's confidence is, on the items with truth: calibration error and log loss."""
    rows = [*TL_METHODS, "auto_untempered"]
    labels = {"auto_untempered": "tl:auto, untempered (calibrate=False)"}
    head = "| method | " + " | ".join(names) + " | mean (real sets) |"
    out = ["", "## Confidence: do the probabilities mean what they say?", "",
           "Each method's posterior on the items with truth. Models that take workers' errors as independent",
           "count ten workers who share a blind spot as ten witnesses and grow too sure; `auto` tempers its",
           "posteriors (raises them to a power tau <= 1 and renormalizes) by the tau that best predicts held-out",
           "labels, which leaves every answer as it was (docs/quality.md, \"Confidence\").", ""]
    out += ["Temperature `auto` chose: " + ", ".join(f"{n} {tl[n]['auto']['temperature']:.2f}" for n in names) + "."]
    for title, score in (
        ("Expected calibration error (10 bins of confidence; 0 = right as often as it says)",
         lambda r: calibration_error(r["confidence"], r["right"])),
        ("Log loss of the truth (mean -ln P(true class); lower is better)",
         lambda r: float(-np.log(np.clip(r["p_truth"], 1e-12, 1.0)).mean())),
        ("Workers' accuracy: mean absolute error of the workers table (scored against the posteriors, as "
         "the product does) against each worker's share right on items with truth; workers with 20+ such labels",
         lambda r: r["worker_error"]),
    ):
        out += ["", f"### {title}", "", head, "|" + "---|" * (len(names) + 2)]
        for m in rows:
            vals = [score(tl[n][m]) for n in names]  # NaN: nothing to score on that set
            real_vals = [v for n, v in zip(names, vals) if n in real]
            mean = f"{np.mean(real_vals):.4f}" if real_vals and np.isfinite(real_vals).all() else "–"
            cells = [f"{v:.3f}" if np.isfinite(v) else "–" for v in vals]
            out.append(f"| {labels.get(m, 'tl:' + m)} | " + " | ".join(cells) + f" | {mean} |")
    return out


def _score_rows(names: list[str], real: list[str], truth: dict, rows: list, score: Callable) -> list[str]:
    """Table rows: one per method, a cell per set and the mean over the real sets (when all have one)."""
    lines = []
    for label, ans in rows:
        vals = {n: score(ans[n], truth[n]) if ans[n] is not None else None for n in names}
        real_vals = [vals[n] for n in real if vals[n] is not None]
        mean = f"{np.mean(real_vals):.4f}" if len(real_vals) == len(real) and real else "–"
        cells = [f"{vals[n]:.3f}" if vals[n] is not None else "–" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean} |")
    return lines


def render(sets: list[LabelSet], tl: dict, ck: dict, repeats: int = 3, ebcc: dict[str, float] | None = None) -> str:
    names = [s.name for s in sets]
    truth = {s.name: s.truth for s in sets}
    real = [n for n in names if n != "synthetic"]
    lines = [
        "<!-- generated by benchmarks/quality.py; do not edit by hand -->",
        "# Truth inference: Truthline vs crowd-kit 1.4.2",
        "",
        "Accuracy over items with known truth. `tl:` = Truthline (`truthline.quality.aggregate(..., method)`),",
        "`ck:` = crowd-kit 1.4.2 on the same integer arrays (separate venv). Real sets from ../shared/datasets;",
        "`synthetic` = 100k items, 1,000 workers, 5 classes, ~10% spammers, 5 labels per item (500k labels).",
        "",
    ]
    head = "| method | " + " | ".join(names) + " | mean (real sets) |"
    lines += ["## Accuracy", "", head, "|" + "---|" * (len(names) + 2)]
    rows = [(f"tl:{m}", {n: tl[n][m]["answers"] for n in names}) for m in TL_METHODS]
    rows += [(f"ck:{m}", {n: ck.get(n, {}).get(m, {}).get("answers") for n in names}) for m in CK_METHODS]
    lines += _score_rows(names, real, truth, rows, accuracy)
    ebcc = ebcc or {}
    lines.append("| EBCC (published) | " + " | ".join(f"{ebcc[n]:.3f}" if n in ebcc else "–" for n in names)
                 + " | – (not published for every set) |")
    lines += render_targets([s for s in sets if s.name != "synthetic"], tl, ck, ebcc)
    lines += ["", "## Balanced accuracy (mean over true classes of the share answered right)", "",
              "Where one class dominates (ZC_in: 78% negatives), accuracy rewards leaning toward it; this does not.",
              "", head, "|" + "---|" * (len(names) + 2)]
    lines += _score_rows(names, real, truth, rows, balanced_accuracy)
    lines += render_calibration(names, real, tl)
    lines += ["", f"## Seconds (fit only; best of {repeats} runs for Truthline, of {max(repeats - 1, 1)} for crowd-kit on synthetic, else 1 run)", "", head.replace(" mean (real sets) |", ""),
              "|" + "---|" * (len(names) + 1)]
    for m in TL_METHODS:
        lines.append(f"| tl:{m} | " + " | ".join(f"{tl[n][m]['seconds']:.3f}" for n in names) + " |")
    for m in CK_METHODS:
        cells = [ck.get(n, {}).get(m, {}).get("seconds") for n in names]
        lines.append(f"| ck:{m} | " + " | ".join(f"{c:.2f}" if c is not None else "–" for c in cells) + " |")
    lines += ["", "## Same model in both: speed-up (crowd-kit s / Truthline s) and answer agreement", "",
              "| pair | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for tm, cm in PAIRS.items():
        cells = []
        for n in names:
            c = ck.get(n, {}).get(cm)
            if not c or "answers" not in c:
                cells.append("–")
                continue
            ca = np.asarray(c["answers"])
            has = ca >= 0
            agree = float((ca[has] == tl[n][tm]["answers"][has]).mean()) * 100 if has.any() else float("nan")
            ratio = c["seconds"] / max(tl[n][tm]["seconds"], 1e-9)
            cells.append(f"{ratio:.0f}x, {agree:.1f}%")
        lines.append(f"| {tm} / {cm} | " + " | ".join(cells) + " |")
    # CPU time (this process's, all threads) does not count time spent waiting for a core, so on a
    # machine shared with other jobs it moves less between runs than wall-clock time
    syn_ck = ck.get("synthetic", {})
    cpu_cells = [
        f"{tm} / {cm} {syn_ck[cm]['cpu_seconds'] / max(tl['synthetic'][tm]['cpu_seconds'], 1e-9):.0f}x"
        for tm, cm in PAIRS.items()
        if "synthetic" in tl and "cpu_seconds" in syn_ck.get(cm, {})
    ]
    if cpu_cells:
        lines += ["", "Same ratio in CPU seconds on synthetic (less sensitive to other jobs on the machine): "
                  + ", ".join(cpu_cells) + "."]
    lines += [
        "",
        "Notes.",
        "- MV: both break ties at the lowest class here (crowd-kit 1.4.2 with these pins), hence 100%.",
        "- `ds` adds Dirichlet smoothing (0.1 pseudo-labels per wrong answer a confusion row allows, spread like",
        "  the pooled confusion). `ds_ml` (smoothing 0, tolerance 1e-8, plain EM steps without SQUAREM, so that 100 of",
        "  them are crowd-kit's 100) is the estimator crowd-kit's DS computes; it is",
        "  compared with `DS100` = crowd-kit DS forced to 100 iterations, because crowd-kit's default DS stops",
        "  as soon as its ELBO dips (after 4 iterations on ZC_in), which explains the 95.7% rows of `ds / DS`.",
        "- `wmv` iterates Wawa to a fixed point (Wawa is one round), so it differs by design.",
        "- MACE: Truthline's is EM with MAP priors, crowd-kit's is variational; they differ where the data is",
        "  thin (S_Rel: 1-21 labels per item, 766 workers).",
        "- GLAD: same model and priors; Truthline maximizes the marginal posterior directly with L-BFGS-B in",
        "  coordinates scaled to unit curvature (worker abilities rest on hundreds of labels, item easiness on a",
        "  handful; unscaled, three real sets stopped at 150 iterations unconverged, scaled they converge in",
        "  16-72) with one BLAS thread; crowd-kit runs EM with conjugate-gradient M-steps and stops early. On",
        "  S_Rel the surface has several optima and they end in different ones (~76% agreement; Truthline's",
        "  has the higher posterior); elsewhere they agree >= 99.7%.",
        "- Speed of the EM loops: E-step exponentials are taken in float32 after subtracting each row's",
        "  float64 maximum (~1e-7 relative error per probability; rows renormalized in float64), and the hot",
        "  loops make no BLAS calls: small multi-threaded OpenBLAS products left threads spinning that, on this",
        "  2-core machine, took CPU from the loop itself. DS also reuses its (items x classes) buffers and",
        "  takes SQUAREM steps (same fixed point, about half the EM steps on the real sets, 8 instead of 9 on",
        "  synthetic); its CPU time on synthetic went from ~0.25 s to ~0.095 s. Importing truthline.quality",
        "  tunes glibc's allocator to keep freed blocks of up to 32 MiB for reuse (truthline/quality/_malloc.py):",
        "  each fit used to page-fault its buffers in afresh (~10,500 faults per DS fit on synthetic, a quarter",
        "  of its time on this VM, and the main cause of DS's ratio moving between 28x and 36x from run to run).",
        "  Row-wise softmax terms are applied as flat arrays rather than (n, K) broadcasts.",
        "- `ebcc`: EBCC (Li, Rubinstein & Cohn 2019) with the authors' priors and 10 subtypes per class, started",
        "  deterministically from the vote shares instead of the best of 40 random starts; its row is compared",
        "  with the published figures. Subtypes that empty out (most, within 10-20 iterations) leave the loop:",
        "  1.5-3.4x faster, same answers. auto takes it instead of the blend when it predicts held-out labels",
        "  better (ZenCrowd-like crowds, whose errors are shared across workers), up to 200k labels (and a",
        "  memory bound). auto also counts a worker's repeated identical answer to an item once (ZC_in and",
        "  S_Rel hold such repeats); the single methods count every row, as crowd-kit does.",
        "- auto on ZC_in stays below one-coin DS: every truth-free score tried (held-out labels, held-out",
        "  items, held-out workers' agreement) prefers the flexible models there, and DS reaches the same",
        "  optimum (0.757) even when started from the truth; only one-coin's rigid symmetric model is right.",
        "  Even restricted to the 16% of items where DS and one-coin disagree, held-out labels are better",
        "  predicted by DS (+0.11 nats per label). EBCC predicts them better still and auto takes it (0.781).",
        "- Times are wall-clock on a shared 2-core machine with other jobs running, so ratios move between",
        "  runs; crowd-kit's times on the real sets come from a cache (first run), synthetic ones from this run.",
        "",
    ]
    return "\n".join(lines)


def render_targets(sets: list[LabelSet], tl: dict, ck: dict, ebcc: dict[str, float]) -> list[str]:
    """Issue #3's accuracy targets, checked per real set: auto within TARGET_GAP_PT of the best crowd-kit
    method, and auto's mean above every crowd-kit method's mean and EBCC's (over the sets it has)."""
    if not sets:
        return []
    acc = {s.name: {m: accuracy(r["answers"], s.truth) for m, r in ck.get(s.name, {}).items() if "answers" in r}
           for s in sets}
    auto = {s.name: accuracy(tl[s.name]["auto"]["answers"], s.truth) for s in sets}
    lines = ["", "## Targets (issue #3) on the real sets", "",
             f"| set | auto | best crowd-kit | auto − best | within {TARGET_GAP_PT} pt |", "|---|---|---|---|---|"]
    for s in sets:
        if not acc[s.name]:
            lines.append(f"| {s.name} | {auto[s.name]:.3f} | – (crowd-kit not run) | – | – |")
            continue
        best = max(acc[s.name], key=acc[s.name].get)
        gap = (auto[s.name] - acc[s.name][best]) * 100
        ok = "yes" if gap >= -TARGET_GAP_PT else "**no**"
        missing = [m for m in CK_METHODS if m not in acc[s.name] and _ck_applies(m, s)]
        among = f" (without {', '.join(missing)})" if missing else ""
        lines.append(f"| {s.name} | {auto[s.name]:.3f} | {acc[s.name][best]:.3f} {best}{among} | {gap:+.1f} pt | {ok} |")
    failed = [f"{m} on {s.name} ({r['error'][:120]})" for s in sets for m, r in ck.get(s.name, {}).items() if "error" in r]
    if failed:
        lines += ["", "crowd-kit failed (these count as not run): " + "; ".join(failed) + "."]
    mean_auto = float(np.mean(list(auto.values())))
    verdicts = []
    for m in CK_METHODS:
        if all(m in acc[n] for n in auto):
            mean = float(np.mean([acc[n][m] for n in auto]))
            verdicts.append(f"{m} {mean:.4f} ({'beaten' if mean_auto > mean else '**not beaten**'})")
    lines += ["", f"Mean over the {len(sets)} real sets: auto {mean_auto:.4f}; crowd-kit: "
              + (", ".join(verdicts) if verdicts else "not run") + "."]
    shared = [n for n in auto if n in ebcc]
    if shared:
        a, e = np.mean([auto[n] for n in shared]), np.mean([ebcc[n] for n in shared])
        lines.append(f"Over the {len(shared)} set(s) with an EBCC figure: auto {a:.4f}, EBCC (published) {e:.4f} "
                     f"({'beaten' if a > e else '**not beaten**'}).")
    return lines


def render_regimes(sets: list[LabelSet], tl: dict, ck: dict) -> str:
    """Accuracy on the synthetic crowds of REGIMES (sets named "<regime>#<seed>", averaged over seeds),
    and how far `auto` is from the best single method of each library."""
    per_set: dict[str, dict[str, float]] = {}
    for s in sets:
        per_set[s.name] = {f"tl:{m}": accuracy(r["answers"], s.truth) for m, r in tl[s.name].items()}
        per_set[s.name].update({f"ck:{m}": accuracy(r["answers"], s.truth)
                                for m, r in ck.get(s.name, {}).items() if "answers" in r})
    names = list(dict.fromkeys(s.name.split("#")[0] for s in sets))
    seeds = {n: [v for k, v in per_set.items() if k.split("#")[0] == n] for n in names}
    acc = {n: {row: float(np.mean([v[row] for v in runs])) for row in runs[0] if all(row in v for v in runs)}
           for n, runs in seeds.items()}
    n_seeds = len(seeds[names[0]])
    rows = [f"tl:{m}" for m in tl[sets[0].name]] + [f"ck:{m}" for m in CK_REGIMES]
    lines = ["", f"## Synthetic crowds of {len(names)} kinds: accuracy", "",
             "Each crowd favours a different model (generator: `regimes()` in benchmarks/quality_data.py); mean",
             f"accuracy over {n_seeds} seed(s), all items have truth. The last rows give `auto` minus the best single",
             "method of each library.", "",
             "| method | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(
            f"{acc[n][row]:.3f}" if row in acc[n] else "–" for n in names) + " |")
    for lib in ("ck", "tl"):
        cells = []
        for n in names:
            others = [v for k, v in acc[n].items() if k.startswith(lib + ":") and k != "tl:auto"]
            cells.append(f"{(acc[n]['tl:auto'] - max(others)) * 100:+.1f} pt" if others else "–")
        lines.append(f"| auto − best {'crowd-kit' if lib == 'ck' else 'other Truthline'} | " + " | ".join(cells) + " |")
    lines += ["", "The crowds:"] + [f"- `{n}`: {d}." for n, d in REGIMES.items()] + [""]
    return "\n".join(lines)


def render_regime_confidence(sets: list[LabelSet], tl: dict, untempered: dict) -> str:
    """auto's temperature and calibration error, with and without tempering, per kind of synthetic crowd
    (means over seeds)."""
    names = list(dict.fromkeys(s.name.split("#")[0] for s in sets))
    runs = {n: [s.name for s in sets if s.name.split("#")[0] == n] for n in names}

    def mean(n: str, get: Callable[[str], float]) -> str:
        return f"{np.mean([get(k) for k in runs[n]]):.3f}"

    lines = ["### `auto`'s confidence on the synthetic crowds", "",
             f"Means over {len(runs[names[0]])} seed(s); calibration error as in \"Confidence\" above.", "",
             "| | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1),
             "| temperature | " + " | ".join(mean(n, lambda k: tl[k]["auto"]["temperature"]) for n in names) + " |"]
    for label, fits in (("calibration error, untempered", {k: r["auto_untempered"] for k, r in untempered.items()}),
                        ("calibration error, auto", {k: r["auto"] for k, r in tl.items()})):
        lines.append(f"| {label} | " + " | ".join(
            mean(n, lambda k: calibration_error(fits[k]["confidence"], fits[k]["right"])) for n in names) + " |")
    return "\n".join(lines + [""])


GOLD_SHARE, GOLD_DRAWS = 0.1, 3


def bench_gold_confidence(sets: list[LabelSet]) -> str:
    """`auto`'s confidence when a tenth of the items with truth are given as gold: untempered, tempered by
    held-out labels alone, and softened further by the gold (scored on the other items with truth)."""
    variants = {"untempered": {"calibrate": False}, "held-out labels": {"calibrate_on_gold": False}, "with gold": {}}
    rows: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    # enough items with truth for the gold and as many again to score on
    sets = [s for s in sets if (s.truth >= 0).sum() >= 2 * auto.GOLD_CALIBRATION_MIN]
    if not sets:
        return ""
    for s in sets:
        data = CrowdLabels.from_arrays(s.items, s.workers, s.labels, n_items=s.n_items, n_workers=s.n_workers,
                                       n_classes=s.n_classes)
        rng = np.random.default_rng(0)
        with_truth = np.flatnonzero(s.truth >= 0)
        rows[s.name] = {v: [] for v in variants}
        for _ in range(GOLD_DRAWS):
            n_gold = max(auto.GOLD_CALIBRATION_MIN, int(GOLD_SHARE * len(with_truth)))
            gold = rng.choice(with_truth, n_gold, replace=False)
            known = {int(i): int(s.truth[i]) for i in gold}
            rest = np.setdiff1d(with_truth, gold)
            for v, opts in variants.items():
                agg = aggregate(data, "auto", known=known, **opts)
                post = agg.posteriors[rest]
                rows[s.name][v].append((
                    float(agg.worker_params["temperature"][0]),
                    calibration_error(post.max(axis=1), agg.answers[rest] == s.truth[rest]),
                    float(-np.log(np.clip(post[np.arange(len(rest)), s.truth[rest]], 1e-12, 1.0)).mean())))
        print(f"  truthline {s.name} auto with gold: done", file=sys.stderr, flush=True)
    names = list(rows)
    lines = ["", "## `auto`'s confidence with gold", "",
             f"A tenth of each set's items with truth (at least {auto.GOLD_CALIBRATION_MIN}) given as gold; means over "
             f"{GOLD_DRAWS} random draws,",
             "scored on the other items with truth. Held-out labels cannot show errors the whole crowd shares;",
             "gold answers the blend was not given can, and may soften the confidence further",
             "(`auto.gold_temperature`; never above the held-out labels' tau). Answers are the same in all three.",
             f"Sets with fewer than {2 * auto.GOLD_CALIBRATION_MIN} items with truth are left out.", "",
             "| | " + " | ".join(names) + " | mean |", "|" + "---|" * (len(names) + 2)]
    for col, what in ((0, "tau"), (1, "calibration error"), (2, "log loss of the truth")):
        for v in variants:
            if col == 0 and v == "untempered":
                continue
            vals = [float(np.mean([r[col] for r in rows[n][v]])) for n in names]
            lines.append(f"| {what}, {v} | " + " | ".join(f"{x:.3f}" for x in vals) + f" | {np.mean(vals):.3f} |")
    return "\n".join(lines) + "\n"


def bench_wide(sets: list[LabelSet]) -> str:
    """`auto` on crowds with many classes or workers: its seconds against one Dawid-Skene fit, and which
    candidate models it tried (BCC and EBCC are left out where their fits would take tens of seconds)."""
    lines = ["", "## `auto` on wide crowds (many classes or many workers)", "",
             "One-coin workers 50-95% accurate (generator: `wide_crowds()` in benchmarks/quality_data.py); one run each.",
             "BCC is tried while workers x classes^2 <= "
             f"{auto.BCC_MAX_CELLS:,}, DS while it is <= {auto.DS_MAX_CELLS:,}, EBCC up to {auto.EBCC_MAX_LABELS:,} "
             f"labels and {auto.EBCC_MAX_CELLS:,} cells.", "",
             "| crowd | labels | auto s | ds s | auto / ds | accuracy auto | accuracy ds | accuracy mv | models tried "
             "| models kept |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in sets:
        data = CrowdLabels.from_arrays(s.items, s.workers, s.labels, n_items=s.n_items, n_workers=s.n_workers,
                                       n_classes=s.n_classes)
        times, fits = {}, {}
        for method in ("auto", "ds", "mv"):
            t = time.perf_counter()
            fits[method] = aggregate(data, method)
            times[method] = time.perf_counter() - t
        answers = {m: f.answers for m, f in fits.items()}
        kept = [n for n, w in zip(auto.CANDIDATES, fits["auto"].worker_params["model_weights"]) if w > 0]
        tried = [n for n in auto.CANDIDATES if auto.affordable(n, data.distinct())]
        print(f"  truthline wide {s.name}: auto {times['auto']:.2f}s", file=sys.stderr, flush=True)
        lines.append(f"| {s.name} | {len(s.labels):,} | {times['auto']:.2f} | {times['ds']:.2f} | "
                     f"{times['auto'] / times['ds']:.1f}x | {accuracy(answers['auto'], s.truth):.3f} | "
                     f"{accuracy(answers['ds'], s.truth):.3f} | {accuracy(answers['mv'], s.truth):.3f} | {', '.join(tried)} | {', '.join(kept)} |")
    return "\n".join(lines) + "\n"


def _ck_applies(method: str, s: LabelSet) -> bool:
    return s.n_classes == 2 or method not in TWO_CLASS_CK


def _crowdkit_methods(s: LabelSet, glad_synthetic: bool, slow_max_labels: int) -> list[str]:
    """crowd-kit methods to run on a set: on the synthetic set CK_SYNTHETIC unless asked for all; on a real
    set all but GLAD and MACE (minutes per 100k labels) above `slow_max_labels` labels, else all."""
    if s.name == "synthetic":
        return CK_METHODS if glad_synthetic else CK_SYNTHETIC
    methods = [m for m in CK_METHODS if _ck_applies(m, s)]
    if len(s.labels) <= slow_max_labels:
        return methods
    print(f"note: {s.name} has {len(s.labels):,} labels: crowd-kit GLAD and MACE not run on it "
          "(--crowdkit-slow-max-labels)", file=sys.stderr)
    return [m for m in methods if m not in SLOW_CK]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crowdkit-python", default=str(HERE.parent / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--no-crowdkit", action="store_true", help="run Truthline only")
    ap.add_argument("--no-synthetic", action="store_true", help="skip the 500k-label synthetic set")
    ap.add_argument("--no-regimes", action="store_true", help="skip the small synthetic crowds of different kinds (REGIMES)")
    ap.add_argument("--no-wide", action="store_true", help="skip auto on the wide crowds (many classes or workers)")
    ap.add_argument("--no-gold", action="store_true", help="skip auto's confidence with gold on the real sets")
    ap.add_argument("--regime-seeds", type=int, default=3, help="crowds drawn per kind (accuracies are averaged)")
    ap.add_argument("--crowdkit-glad-synthetic", action="store_true",
                    help="also run crowd-kit GLAD and MACE on the synthetic set (takes many minutes)")
    ap.add_argument("--crowdkit-slow-max-labels", type=int, default=200_000,
                    help="real sets with more labels get no crowd-kit GLAD/MACE (hours at 500k labels); the "
                         "Targets section then says so")
    ap.add_argument("--datasets", type=Path, default=DATASETS_DIR,
                    help="folder of sets (each a folder with answers.csv and truth.csv; an optional README.md "
                         "table with an \"EBCC (published)\" column)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the Markdown table is written")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timing runs, best kept (Truthline: N; crowd-kit on synthetic: N-1)")
    args = ap.parse_args(argv)

    names = available_sets(args.datasets)
    if not names:
        print(f"note: no sets in {args.datasets}; real sets skipped", file=sys.stderr)
    sets, skipped = [], []
    for n in names:
        try:
            sets.append(load_real(n, args.datasets))
        except (ValueError, KeyError, OSError, csv.Error) as exc:
            skipped.append(f"- `{n}`: {exc}")  # one malformed folder must not sink the run
            print(f"note: skipping set {n}: {exc}", file=sys.stderr)
    if not args.no_synthetic:
        sets.append(synthetic())
    methods_for = {s.name: _crowdkit_methods(s, args.crowdkit_glad_synthetic, args.crowdkit_slow_max_labels)
                   for s in sets}
    crowds = [] if args.no_regimes else [
        dataclasses.replace(s, name=f"{s.name}#{seed}") for seed in range(args.regime_seeds) for s in regimes(seed)]
    methods_for.update({s.name: CK_REGIMES for s in crowds})
    ck: dict = {}
    if not args.no_crowdkit:
        if Path(args.crowdkit_python).exists():
            ck = run_crowdkit(sets + crowds, args.crowdkit_python, methods_for, max(1, args.repeats - 1))
        else:
            print(f"note: {args.crowdkit_python} missing; crowd-kit columns skipped "
                  "(make bench-quality creates it)", file=sys.stderr)
    tl = {s.name: run_truthline(s, args.repeats) for s in sets}
    for s in sets:
        tl[s.name].update(run_truthline(s, 1, UNTEMPERED))
    text = render(sets, tl, ck, args.repeats, published_ebcc(args.datasets))
    real = [s for s in sets if s.name != "synthetic"]
    if real and not args.no_gold:
        text += bench_gold_confidence(real)
    if skipped:
        text += "\n## Sets skipped\n\n" + "\n".join(skipped) + "\n"
    if crowds:
        no_ml = {m: v for m, v in TL_METHODS.items() if m != "ds_ml"}
        tl_crowds = {s.name: run_truthline(s, 1, no_ml) for s in crowds}
        untempered = {s.name: run_truthline(s, 1, UNTEMPERED) for s in crowds}
        text += render_regimes(crowds, tl_crowds, ck) + render_regime_confidence(crowds, tl_crowds, untempered)
    if not args.no_wide:
        text += bench_wide(wide_crowds())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
