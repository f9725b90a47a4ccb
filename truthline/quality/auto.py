"""Method "auto": choose and blend truth-inference models from the labels alone (no truth needed).

Each candidate model is fitted with a random share of the labels held out, and scored by the
predictive log-probability it gives those held-out labels: P(label | rest) = sum_k T_i[k] C_w[k, label],
with T_i the item posterior from the other labels and C_w the worker's fitted confusion matrix.
Every model whose mean held-out log-probability per label is within `tolerance` nats of the best
one is kept, and the kept models' posteriors (refitted on all labels) are averaged with equal
weights. Averaging models that explain the labels about equally well cancels part of each model's
own bias (one-coin's rigidity, DS's over-fitting, MACE's spam mode) while models that clearly fit
worse are left out. Rejected models are not refitted.

The blended candidates run from rigid to flexible: `pooled` (one accuracy shared by every worker,
majority vote's model), one-coin, MACE, Dawid-Skene and BCC. The rigid ones win where the data cannot
support per-worker estimates (few labels per worker) or where workers' errors are shared, which
flexible models mistake for signal.

EBCC is a challenger, not a blend member: it is compared with the blend as a whole (the blend's
held-out probability of a label is the kept models' average) and replaces it when it predicts the
held-out labels better. Its item subtypes model errors that are shared across workers; where that
structure is real (ZenCrowd: 0.82 -> 0.91 on the US workers' set) it is usually alone in seeing it,
so averaging it with the per-worker models would outvote it. It is tried on crowds of up to
`EBCC_MAX_LABELS` labels, and while items x classes + workers x classes^2 + labels x classes stays
within `EBCC_MAX_CELLS`: each fit costs about `subtypes` times a Dawid-Skene fit, and holds (items,
classes, subtypes) and (workers, classes, subtypes, classes) arrays. BCC is tried while workers x
classes^2 stays within `BCC_MAX_CELLS` (see `affordable`).

The same held-out labels then calibrate the result: the blend's posteriors are raised to the power tau
(<= 1) that best predicts them and renormalized (`fit_temperature`). The models take workers' errors
as independent given the class and grow too sure where errors are shared; tempering keeps every answer
and spreads the confidence (S_Dog: mean confidence 0.989 -> 0.935 at 0.840 accuracy). Errors the whole
crowd shares leave the labels in agreement, so held-out labels cannot show them; where the caller gives
gold answers (at least `GOLD_CALIBRATION_MIN` items with labels), a tau fitted on gold answers the blend
was not given may soften the confidence further (`gold_temperature`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numpy as np

from . import bcc, dawid_skene, ebcc, mace, one_coin
from ._em import Known, accuracy_from_confusion, check_finite, parse_known
from .labels import CrowdLabels, QualityInputError
from .result import Aggregate

__all__ = [
    "fit", "affordable", "heldout", "heldout_probs", "heldout_scores", "fit_temperature", "gold_temperature", "temper",
    "default_folds", "challenge_z", "choice",
    "CANDIDATES", "CHALLENGERS",
]

T = TypeVar("T")
R = TypeVar("R")
# The candidate fits are independent and spend their time in NumPy/SciPy code that releases the GIL,
# so on several cores they run side by side (2 cores: ~1.6x on 300k labels). Small crowds fit in
# milliseconds, where threads would only add overhead.
THREADS = min(4, os.cpu_count() or 1)
_PARALLEL_FROM = 10_000  # labels

CANDIDATES: dict[str, Callable[..., Aggregate]] = {
    "pooled": partial(one_coin.fit, shared=True),  # majority vote's model: all workers equally good
    "one_coin": one_coin.fit,
    "ds": dawid_skene.fit,
    "mace": mace.fit,
    "bcc": bcc.fit,
    "ebcc": ebcc.fit,
}
# compared with the blend of the others as a whole, never averaged into it
CHALLENGERS = ("ebcc",)
# The costly candidates are tried only where their fits stay within auto's budget of a few seconds.
EBCC_MAX_LABELS = 200_000  # 500k labels: ~4 s per EBCC fit, against auto's 3 s budget
# items x classes + workers x classes^2 + labels x classes: each iteration's work and arrays are these
# x 10 subtypes (~80 MB per float64 array at the limit); 100 classes on 50k labels: ~10 s per fit
EBCC_MAX_CELLS = 1_000_000
# workers x classes^2: BCC takes digammas of every worker's confusion several times per iteration
# (2,000 workers x 50 classes: 0.8 s per iteration, 5 s per fit; the largest real crowd measured,
# S_Rel, has 12k cells)
BCC_MAX_CELLS = 100_000
# workers x classes^2: Dawid-Skene's parameters, each counted and logged every iteration (500 workers x 300
# classes = 45M cells: 10 s per fit, from 9k labels that cannot pin down a thousandth of them; 2,000 workers
# x 50 classes = 5M: 1.6 s)
DS_MAX_CELLS = 10_000_000
# The temperature is one number: an even sample of held-out labels of about this many (label, class)
# cells per candidate fits it as well as all of them, in bounded memory on wide crowds.
TEMPERATURE_CELLS = 200_000
# held-out fits per candidate cost about folds x labels: the default folds keep that near this many labels
FOLD_LABELS = 200_000
WIDE_CLASSES = 5  # up to this many classes a label counts once in that budget
# With EBCC tried, the default folds are fitted in two stages: the first EARLY_FOLDS, then the rest only
# if EBCC's lead or lag on the blend is within DECISIVE_Z standard errors of zero (per-label differences
# in held-out log-probability). S_Dog, ZC_in, face and MS are decided after 4 of 10; web, rte need all.
EARLY_FOLDS = 4
DECISIVE_Z = 3.0
TAU_MIN = 0.1  # the softest tempering allowed
KEEP_Z = 2.0  # a model this many standard errors from the best held-out score is averaged in (see `_blended`)
# Gold items with labels needed before they may soften the confidence further (fewer make tau noise).
GOLD_CALIBRATION_MIN = 20


def affordable(name: str, labels: CrowdLabels) -> bool:
    """Whether auto tries candidate `name` on this crowd (see EBCC_MAX_*, BCC_MAX_CELLS, DS_MAX_CELLS)."""
    k = labels.n_classes
    if name == "ebcc":
        cells = labels.n_items * k + labels.n_workers * k * k + labels.n_labels * k
        return labels.n_labels <= EBCC_MAX_LABELS and cells <= EBCC_MAX_CELLS
    if name == "bcc":
        return labels.n_workers * k * k <= BCC_MAX_CELLS
    if name == "ds":
        return labels.n_workers * k * k <= DS_MAX_CELLS
    return True


def _joint(agg: Aggregate, data: CrowdLabels) -> np.ndarray:
    """(labels, classes): P(the item is of class k and gets this label | a fit made without the label),
    from the item's posterior and the worker's confusion; summed over k it is the label's probability."""
    if "subtypes" in agg.item_params:
        return ebcc.class_predictive(agg, data)
    cols = agg.worker_params["confusion"][data.workers, :, data.labels]  # P(given label | true class k)
    return agg.posteriors[data.items] * cols


def _map(fn: Callable[[T], R], args: Iterable[T], n_labels: int) -> list[R]:
    """[fn(a) for a in args], in order; on several threads for large crowds (results do not depend on it)."""
    return list(_imap(fn, args, n_labels))


def _imap(fn: Callable[[T], R], args: Iterable[T], n_labels: int) -> Iterator[R]:
    """`_map`'s results one at a time, so a caller that folds them in holds one (or one per thread) at once:
    a fit's (workers, classes, classes) confusion is 360 MB on 500 workers x 300 classes."""
    args = list(args)
    if THREADS < 2 or len(args) < 2 or n_labels < _PARALLEL_FROM:
        yield from (fn(a) for a in args)
        return
    with ThreadPoolExecutor(min(THREADS, len(args)), thread_name_prefix="truthline-auto") as pool:
        yield from pool.map(fn, args)


def default_folds(n_labels: int, holdout: float = 0.1, max_labels: int = 100_000, n_classes: int = 2) -> int:
    """Folds `heldout` uses by default: as many as keep the held-out fits within FOLD_LABELS labels' worth
    of work, at most one per `holdout` share, and 1 above `max_labels` labels. A label of a crowd with more
    than WIDE_CLASSES classes counts n_classes / WIDE_CLASSES times (every fit's steps grow with the
    classes: 6k labels over 300 classes took 14 s in 10 folds)."""
    if n_labels > max_labels:
        return 1
    work = n_labels * max(1.0, n_classes / WIDE_CLASSES)
    held = max(1, int(round(holdout * n_labels)))  # labels per fold, as `_folds` cuts them
    # past every label held out once, folds repeat labels: holdout=1e-9 on 45 labels asked for 4k folds
    every_once = max(10, -(-n_labels // held))
    return max(1, min(int(1.0 / holdout + 1e-9), every_once, int(FOLD_LABELS // max(1.0, work))))


def _folds(n_labels: int, holdout: float, n_folds: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_labels)
    size = max(1, int(round(holdout * n_labels)))
    return [perm[(f * size) % n_labels:][:size] for f in range(n_folds)]


@dataclass
class Heldout:
    """What the held-out fits tell: each candidate's probability of every held-out label (folds in
    order), and on an even sample of those labels the pieces `fit_temperature` needs: the item's
    class posterior and the joint P(class k, label), both (sample, classes), from the same fit."""

    probs: dict[str, np.ndarray]
    posteriors: dict[str, np.ndarray]
    joints: dict[str, np.ndarray]

    def extend(self, more: Heldout) -> Heldout:
        """These folds followed by `more`'s (as if fitted in one call)."""
        def cat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {name: np.concatenate([a[name], b[name]]) for name in a}
        return Heldout(cat(self.probs, more.probs), cat(self.posteriors, more.posteriors),
                       cat(self.joints, more.joints))


def heldout(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    candidates: Sequence[str] = tuple(CANDIDATES),
    holdout: float = 0.1,
    folds: int | None = None,
    seed: int = 0,
    max_labels: int = 100_000,
    only: Sequence[int] | None = None,
) -> Heldout:
    """Fit each candidate with each fold's labels held out, and score it on them.

    folds defaults to `default_folds`: as many as keep the held-out fits within FOLD_LABELS labels' worth
    of work, at most one per `holdout` share (10: every label scored once) and 1 above `max_labels`
    labels, where a tenth of the labels is plenty to score on (15k labels: 10 folds; 50k: 4; 100k: 2).
    On small crowds the choice between models otherwise rests on a few thousand labels and moves with
    the random split: on web, 4 folds of 10% chose EBCC (0.744) over the blend (0.837) for 1 seed in 8;
    10 folds chose the blend for all 8. Every split trains on all the other labels, so the candidates
    are judged at the crowd's own density of labels per worker (scoring on a sample of items instead
    gives each worker a fraction of its labels and favours the rigid models: on the 500k-label synthetic
    crowd it kept Dawid-Skene out of the blend, 0.969 against 0.971 with it).
    only: fit just these of the folds (indices, in order; default all), as `fit` does in two stages.
    """
    if folds is None:
        folds = default_folds(labels.n_labels, holdout, max_labels, labels.n_classes)
    if folds < 1:
        raise QualityInputError(f"folds: must be at least 1, got {folds}", "folds")
    every_fold = _folds(labels.n_labels, holdout, folds, seed)
    splits = []
    for hold in (every_fold if only is None else [every_fold[f] for f in only]):
        mask = np.ones(labels.n_labels, dtype=bool)
        mask[hold] = False
        splits.append((labels.subset(mask), labels.subset(~mask)))
    per_fold = max(1, TEMPERATURE_CELLS // labels.n_classes // folds)

    def run(job: tuple[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        train, test = splits[job[1]]
        agg = CANDIDATES[job[0]](train, known)
        joint = _joint(agg, test)
        every = np.arange(0, len(joint), -(-len(joint) // per_fold) or 1)  # an even sample across the labels
        # a label whose item kept no other label tests only the class prior, never how far the labels
        # were trusted: with one worker every item is such, and tempering fitted on them went to TAU_MIN
        every = every[np.bincount(train.items, minlength=labels.n_items)[test.items[every]] > 0]
        return joint.sum(axis=1), agg.posteriors[test.items[every]], joint[every]

    jobs = [(name, f) for f in range(len(splits)) for name in candidates]
    parts: dict[str, list[tuple[np.ndarray, ...]]] = {name: [] for name in candidates}
    for (name, _), got in zip(jobs, _map(run, jobs, labels.n_labels)):
        parts[name].append(got)  # fold order is fixed: the same arrays with or without threads

    def joined(i: int) -> dict[str, np.ndarray]:
        return {name: np.concatenate([got[i] for got in p]) for name, p in parts.items()}

    return Heldout(probs=joined(0), posteriors=joined(1), joints=joined(2))


def heldout_probs(labels: CrowdLabels, known: Mapping[int, int] | None = None, **opts: Any) -> dict[str, np.ndarray]:
    """Each candidate's predictive probability of every held-out label (folds concatenated in order);
    options as `heldout`."""
    return heldout(labels, known, **opts).probs


def heldout_scores(labels: CrowdLabels, known: Mapping[int, int] | None = None, **opts: Any) -> dict[str, float]:
    """Mean held-out log-probability per label of each candidate (higher is better); options as `heldout_probs`."""
    return {name: _mean_log(p) for name, p in heldout_probs(labels, known, **opts).items()}


def _mean_log(p: np.ndarray) -> float:
    return float(np.log(np.clip(p, 1e-12, 1.0)).mean()) if len(p) else 0.0


def _blended(probs: Mapping[str, np.ndarray], names: Sequence[str], tolerance: float) -> list[int]:
    """Indices of the blend's members: the non-challengers within `tolerance` nats of the best one, or
    within KEEP_Z standard errors of it (over the per-label differences), where that is more.

    The standard errors matter on small crowds only: with 27 labels, Dawid-Skene led by chance, was
    averaged with nothing, and answered three items against a 2-1 majority that four of the five models
    followed. On every real and synthetic crowd benchmarked the blends are the same with or without them."""
    blended = [i for i, n in enumerate(names) if n in probs and n not in CHALLENGERS]
    if not blended:
        return []
    logs = [np.log(np.clip(probs[names[i]], 1e-12, 1.0)) for i in blended]
    s = np.array([v.mean() if len(v) else 0.0 for v in logs])
    best = logs[int(s.argmax())]
    kept = []
    for i, v, mean in zip(blended, logs, s):
        se = float((best - v).std() / np.sqrt(len(v))) if len(v) > 1 else 0.0
        if mean >= s.max() - max(tolerance, KEEP_Z * se):
            kept.append(i)
    return kept


def challenge_z(probs: Mapping[str, np.ndarray], names: Sequence[str], tolerance: float) -> float:
    """How many standard errors the challengers' best lead (or lag) on the blend is from zero, in
    per-label differences of held-out log-probability; inf where there is no contest."""
    kept = _blended(probs, names, tolerance)
    rivals = [n for n in names if n in probs and n in CHALLENGERS]
    if not kept or not rivals:
        return float("inf")
    blend = np.log(np.clip(np.mean([probs[names[i]] for i in kept], axis=0), 1e-12, 1.0))
    z = float("inf")
    for n in rivals:
        diff = np.log(np.clip(probs[n], 1e-12, 1.0)) - blend
        se = diff.std() / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        z = min(z, abs(diff.mean()) / se if se > 0 else float("inf"))
    return z


def choose_weights(probs: Mapping[str, np.ndarray], names: Sequence[str], tolerance: float) -> np.ndarray:
    """Model weights (one per name): the blended candidates within `tolerance` nats of the best one,
    equally, unless a challenger predicts the held-out labels better than that blend does."""
    weights = np.zeros(len(names))
    kept = _blended(probs, names, tolerance)
    best_score = -np.inf
    if kept:
        weights[kept] = 1.0 / len(kept)
        best_score = _mean_log(np.mean([probs[names[i]] for i in kept], axis=0))
    for i, n in enumerate(names):
        if n in probs and n in CHALLENGERS and _mean_log(probs[n]) > best_score:
            best_score = _mean_log(probs[n])
            weights[:] = 0.0
            weights[i] = 1.0
    return weights


def temper(posteriors: np.ndarray, tau: float) -> np.ndarray:
    """Each row raised to the power `tau` and renormalized: the most probable class and the exact zeros
    (gold items' other classes) stay, and tau < 1 spreads the confidence."""
    if tau == 1.0 or not posteriors.size:
        return posteriors
    with np.errstate(divide="ignore"):
        logp = np.log(posteriors) * tau
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    out /= out.sum(axis=1, keepdims=True)
    return out


def fit_temperature(held: Heldout, names: Sequence[str], weights: np.ndarray) -> float:
    """The temperature tau in [TAU_MIN, 1] (two decimals) under which the weighted blend's item posteriors,
    tempered, best predict the held-out labels; 1 unless that beats the untempered blend.

    The models assume that workers err independently given the true class, so ten workers who share a
    blind spot count as ten independent witnesses and the posteriors come out too sure (S_Dog: 0.989
    mean confidence at 0.840 accuracy). A held-out label tests that: P(label) = sum_k T'[k] P(k, label)
    / T[k], with T the blend's posterior from the other labels and T' = temper(T, tau). At tau = 1 it
    is the blend's own held-out probability. Answers do not change; only how sure they say they are.
    """
    kept = [(held.posteriors[n], held.joints[n], w) for n, w in zip(names, weights) if w > 0 and n in held.probs]
    if not kept or not len(kept[0][0]):
        return 1.0
    post = sum(w * t for t, _, w in kept)
    joint = sum(w * j for _, j, w in kept)
    given = np.divide(joint, post, out=np.zeros_like(joint), where=post > 0)  # P(label | class k)

    def loss(tau: float) -> float:
        return -float(np.log(np.clip(np.einsum("nk,nk->n", temper(post, tau), given), 1e-12, None)).mean())

    return _best_tau(loss)


def _best_tau(loss: Callable[[float], float]) -> float:
    """The tau in [TAU_MIN, 1] (two decimals) minimizing `loss`; 1 unless it beats tau = 1."""
    from scipy.optimize import minimize_scalar  # lazy: scipy.optimize is 0.5 s of every CLI command's start

    best = minimize_scalar(loss, bounds=(TAU_MIN, 1.0), method="bounded", options={"xatol": 1e-3})
    tau = round(float(best.x), 2)
    return tau if tau < 1.0 and loss(tau) < loss(1.0) else 1.0


def gold_temperature(
    labels: CrowdLabels, known: Mapping[int, int], names: Sequence[str], weights: np.ndarray, seed: int = 0
) -> tuple[float, int]:
    """(tau, gold items used): the temperature under which the weighted blend's posteriors best predict
    gold answers they were not given; (1, 0) below GOLD_CALIBRATION_MIN gold items with labels.

    Held-out labels cannot show errors the whole crowd shares (every worker falls for the same hard
    items: the labels agree, and agree wrongly); gold can. The gold items with labels are split in two
    halves, the blend is refitted twice with only one half clamped, and the other half's posteriors,
    computed from their labels alone, are scored against their gold answers."""
    kn = parse_known(known, labels)
    labelled = np.bincount(labels.items, minlength=labels.n_items)[kn.idx] > 0  # no labels: nothing to test
    items, classes = kn.idx[labelled], kn.cls[labelled]
    if len(items) < GOLD_CALIBRATION_MIN:
        return 1.0, 0
    order = np.random.default_rng(seed).permutation(len(items))
    halves = [order[0::2], order[1::2]]
    kept = [(n, w) for n, w in zip(names, weights) if w > 0]
    jobs = [(h, n) for h in range(2) for n, _ in kept]

    def run(job: tuple[int, str]) -> np.ndarray:
        h, name = job
        clamped = halves[1 - h]
        agg = CANDIDATES[name](labels, dict(zip(items[clamped].tolist(), classes[clamped].tolist())))
        return agg.posteriors[items[halves[h]]]

    fitted = _map(run, jobs, labels.n_labels)
    post = np.concatenate([sum(w * fitted[h * len(kept) + j] for j, (_, w) in enumerate(kept)) for h in range(2)])
    truth = np.concatenate([classes[halves[h]] for h in range(2)])
    rows = np.arange(len(truth))

    def loss(tau: float) -> float:
        return -float(np.log(np.clip(temper(post, tau)[rows, truth], 1e-12, None)).mean())

    return _best_tau(loss), len(items)


def _comparable(labels: CrowdLabels, kn: Known) -> bool:
    """Whether anything measures one worker against another: an item two workers labelled, or a gold item
    with a label. Without either (one label per item, no gold) a per-worker model is free to decide that
    a worker's "3"s are mostly 1s, and `auto` answered items against their only label (EBCC, 13% of the
    items of some such crowds); `labels` has repeats removed (`CrowdLabels.distinct`)."""
    if np.bincount(labels.items, minlength=labels.n_items).max(initial=0) >= 2:
        return True
    return bool(len(kn.idx)) and bool(np.isin(kn.idx, labels.items).any())


def choice(worker_params: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """What an `auto` fit chose, from its worker_params: {"models": {name: weight} of the models it blended
    (weights rounded to 4 places), "temperature": tau, "temperature_gold_items": gold items that checked it}."""
    weights = worker_params["model_weights"]
    return {"models": {name: round(float(w), 4) for name, w in zip(CANDIDATES, weights) if w > 0},
            "temperature": float(worker_params["temperature"][0]),
            "temperature_gold_items": int(worker_params["temperature_gold_items"][0])}


def fit(
    labels: CrowdLabels,
    known: Mapping[int, int] | None = None,
    *,
    candidates: Sequence[str] = tuple(CANDIDATES),
    holdout: float = 0.1,
    folds: int | None = None,
    seed: int = 0,
    tolerance: float = 0.05,
    calibrate: bool = True,
    calibrate_on_gold: bool = True,
) -> Aggregate:
    """Pick/blend models by held-out predictive log-probability.

    candidates: names from CANDIDATES (those in CHALLENGERS compete with the blend of the others; EBCC
    and BCC are skipped on crowds too large for them, see `affordable`, unless only costly ones are
    named); holdout: share of labels held out per fold; folds: number of held-out splits (default: see
    `default_folds`; 10 below 20k labels, 4 at 50k, 2 at 100k, 1 above; with EBCC tried, the folds
    after the first EARLY_FOLDS are fitted only if `challenge_z` is below DECISIVE_Z);
    seed: randomness of the splits; tolerance: nats per held-out label a model may trail the best by
    and still be averaged in (0 keeps only the best); calibrate: temper the posteriors by the
    temperature that best predicts the held-out labels (`fit_temperature`; answers stay the same),
    or the lower one that best predicts held-out gold answers (`gold_temperature`; costs two refits of
    the kept models, and needs `GOLD_CALIBRATION_MIN` gold items with labels; calibrate_on_gold=False
    leaves gold out of it).
    A worker's repeated identical answers to an item count once (`CrowdLabels.distinct`).
    worker_params gets "confusion" (weighted mix), "model_weights" (one per candidate, in order),
    "temperature" (one value; 1 where nothing was held out or tempering would not help) and
    "temperature_gold_items" (how many gold items checked it; 0 where gold did not take part)."""
    bad = [c for c in candidates if c not in CANDIDATES]
    if bad or not candidates:
        raise QualityInputError(
            f"candidates: unknown {bad}; choose from {', '.join(CANDIDATES)}", "candidates"
        )
    if not np.isfinite(tolerance) or tolerance < 0:
        raise QualityInputError(f"tolerance: must be a number >= 0, got {tolerance}", "tolerance")
    if not 0.0 < holdout < 1.0:
        raise QualityInputError(f"holdout: must be in (0, 1), got {holdout}", "holdout")
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 1):
        raise QualityInputError(f"folds: must be an integer >= 1, got {folds!r}", "folds")
    if seed < 0:
        raise QualityInputError(f"seed: must be >= 0, got {seed}", "seed")
    kn = parse_known(known, labels)  # validate once, early
    labels = labels.distinct()
    names = list(candidates)
    tried = [n for n in names if affordable(n, labels)] or names  # all of them if the caller named only costly ones
    tau, gold_used = 1.0, 0
    if labels.n_labels >= 10 and len(tried) > 1 and _comparable(labels, kn):
        n_folds = default_folds(labels.n_labels, holdout, n_classes=labels.n_classes) if folds is None else folds
        staged = folds is None and n_folds > EARLY_FOLDS and any(n in CHALLENGERS for n in tried)
        first = list(range(EARLY_FOLDS if staged else n_folds))
        opts = {"candidates": tried, "holdout": holdout, "folds": n_folds, "seed": seed}
        held = heldout(labels, known, only=first, **opts)
        weights = choose_weights(held.probs, names, tolerance)
        if staged and challenge_z(held.probs, names, tolerance) < DECISIVE_Z:
            held = held.extend(heldout(labels, known, only=list(range(len(first), n_folds)), **opts))
            weights = choose_weights(held.probs, names, tolerance)
        if calibrate:
            tau = fit_temperature(held, names, weights)
            if known and calibrate_on_gold:
                # gold may only soften further: it sees shared errors that held-out labels cannot, while a
                # gold tau above the labels' is noise from few items (30 gold on CF: 1.22)
                tau_gold, gold_used = gold_temperature(labels, known, names, weights, seed)
                tau = min(tau, tau_gold)
    else:
        # too few labels to hold any out, or nothing to tell workers apart by: majority vote's model
        weights = np.zeros(len(names))
        weights[names.index("pooled") if "pooled" in names else names.index(tried[0])] = 1.0

    post = np.zeros((labels.n_items, labels.n_classes))
    conf: np.ndarray | None = None
    prior = np.zeros(labels.n_classes)
    iterations = 0
    converged = True
    kept = [(name, w) for name, w in zip(names, weights) if w > 0]
    fits = _imap(lambda name: CANDIDATES[name](labels, known), [name for name, _ in kept], labels.n_labels)
    for _, w in kept:  # not zip(kept, fits): zip's reused result tuple would keep the last fit alive
        agg = next(fits)
        post += w * agg.posteriors
        # scaled in the fit's own array, which becomes the sum: a wide crowd's confusions are hundreds of MB
        weighted = np.multiply(agg.worker_params["confusion"], w, out=agg.worker_params["confusion"])
        conf = weighted if conf is None else np.add(conf, weighted, out=conf)
        prior += w * (agg.class_prior if agg.class_prior is not None else agg.posteriors.mean(axis=0))
        iterations = max(iterations, agg.iterations)
        converged = converged and agg.converged
        del agg, weighted  # before the next fit is made
    assert conf is not None  # at least one model has weight
    post = temper(check_finite(post, "auto"), tau)
    prior = prior / prior.sum() if prior.sum() > 0 else np.full(labels.n_classes, 1.0 / labels.n_classes)
    return Aggregate(
        method="auto",
        posteriors=post,
        worker_accuracy=accuracy_from_confusion(conf, prior),
        worker_params={"confusion": conf, "model_weights": weights, "temperature": np.array([tau]),
                       "temperature_gold_items": np.array([gold_used])},
        iterations=iterations,
        converged=converged,
        class_prior=prior,
    )
