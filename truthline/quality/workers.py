"""Per-worker quality with uncertainty: accuracy credible intervals and a spammer score.

Accuracy is scored against item posteriors (soft correctness = posterior mass on the worker's label)
or against known truth, and reported as a Beta posterior: mean and an equal-tailed credible interval,
so a worker seen on three items gets a wide interval instead of a verdict.

The spammer score (Raykar & Yu 2012) measures how far a worker's confusion matrix is from rank one
(every row equal: the label does not depend on the true class). 0 = spammer, 1 = perfect. A worker
who systematically swaps classes also scores high: the score measures information, not accuracy.

    agg = aggregate(data)
    stats = worker_stats(data, agg.posteriors, confusion=agg.worker_params.get("confusion"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.special import betaincinv, ndtri

from .labels import CrowdLabels, QualityInputError, _as_index_array

__all__ = ["Slips", "WorkerStats", "accuracy_interval", "class_confusion", "confusion_from_posteriors", "spammer_score",
           "label_decisions", "top_confusions", "top_label_slips", "top_slips", "worker_stats"]

Prior = Literal["uniform", "jeffreys"]
_PRIORS: dict[str, float] = {"uniform": 1.0, "jeffreys": 0.5}


@dataclass(frozen=True)
class WorkerStats:
    """Arrays of length n_workers. `n_scored` is the (soft) number of labels with known answers."""

    n_labels: np.ndarray
    n_scored: np.ndarray
    accuracy: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    spammer_score: np.ndarray
    level: float


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0.0 < level < 1.0:
        raise QualityInputError(f"level: must be a number strictly between 0 and 1, got {level!r}", "level")
    return float(level)


def accuracy_interval(
    correct: Any, total: Any, level: float = 0.95, prior: Prior = "uniform"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beta posterior of an accuracy from (soft) `correct` out of `total` labels: (mean, lower, upper).

    prior: "uniform" = Beta(1, 1), "jeffreys" = Beta(1/2, 1/2). The interval is equal-tailed.
    """
    level = _check_level(level)
    if prior not in _PRIORS:
        raise QualityInputError(f"prior: must be 'uniform' or 'jeffreys', got {prior!r}", "prior")
    c = np.asarray(correct, dtype=np.float64)
    n = np.asarray(total, dtype=np.float64)
    if not (np.all(np.isfinite(c)) and np.all(c >= 0)):
        raise QualityInputError("correct: must be finite and >= 0", "correct")
    if not (np.all(np.isfinite(n)) and np.all(n >= c - 1e-9)):
        raise QualityInputError("total: must be finite and >= correct", "total")
    a0 = _PRIORS[prior]
    a = a0 + c
    b = a0 + np.maximum(n - c, 0.0)
    tail = (1.0 - level) / 2.0
    # the Beta quantile function itself (what scipy.stats' beta.ppf calls), without importing
    # scipy.stats: that alone costs a second of start-up for the CLI and a server's first report
    return a / (a + b), betaincinv(a, b, tail), betaincinv(a, b, 1.0 - tail)


def spammer_score(confusion: Any) -> np.ndarray:
    """Raykar & Yu (2012) spammer score per worker from a (n_workers, K, K) confusion array.

    Rows (true class) are normalised; an all-zero row counts as uniform (no information).
    score = sum over class pairs c < c' of ||A_c - A_c'||^2 / (K (K - 1)), in [0, 1].
    """
    a = np.asarray(confusion, dtype=np.float64)
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[1] < 2:
        raise QualityInputError(f"confusion: expected shape (n_workers, K, K) with K >= 2, got {a.shape}", "confusion")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise QualityInputError("confusion: entries must be finite and >= 0", "confusion")
    k = a.shape[1]
    sums = a.sum(axis=2, keepdims=True)
    rows = np.full_like(a, 1.0 / k)
    np.divide(a, sums, out=rows, where=sums > 0)
    col = rows.sum(axis=1)  # (W, K): sum over true classes
    score = (k * np.sum(rows * rows, axis=(1, 2)) - np.sum(col * col, axis=1)) / (k * (k - 1))
    return np.clip(score, 0.0, 1.0)


def _evidence(labels: CrowdLabels, posteriors: Any, truth: Any) -> np.ndarray:
    """(n_items, K) item posteriors; all-zero rows mark items without evidence."""
    if not isinstance(labels, CrowdLabels):
        raise QualityInputError("labels: expected a CrowdLabels; build one with CrowdLabels.from_arrays", "labels")
    if (posteriors is None) == (truth is None):
        raise QualityInputError("posteriors: pass exactly one of posteriors or truth", "posteriors")
    n, k = labels.n_items, labels.n_classes
    if truth is not None:
        t = np.asarray(truth)
        if t.ndim != 1 or len(t) != n:
            raise QualityInputError(f"truth: expected shape ({n},), got {t.shape}", "truth")
        if t.dtype.kind not in "iuf":
            raise QualityInputError(f"truth: expected integer classes (-1 = unknown), got dtype {t.dtype}", "truth")
        known = t >= 0  # -1 (or any negative) = unknown
        tt = _as_index_array("truth", np.where(known, t, 0))
        if len(tt) and tt.max() >= k:
            raise QualityInputError(f"truth: classes must be < n_classes ({k}); use -1 for unknown", "truth")
        post = np.zeros((n, k))
        post[np.flatnonzero(known), tt[known]] = 1.0
        return post
    p = np.asarray(posteriors, dtype=np.float64)
    if p.shape != (n, k):
        raise QualityInputError(f"posteriors: expected shape ({n}, {k}), got {p.shape}", "posteriors")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise QualityInputError("posteriors: entries must be finite and >= 0", "posteriors")
    s = p.sum(axis=1)
    if np.any((np.abs(s - 1.0) > 1e-6) & (s != 0.0)):
        raise QualityInputError("posteriors: each row must sum to 1 (or be all zero to skip the item)", "posteriors")
    return p


def confusion_from_posteriors(labels: CrowdLabels, posteriors: Any, smoothing: float = 1.0) -> np.ndarray:
    """(n_workers, K, K) confusion estimate: row = true class, column = given label.

    Each row gets `smoothing` pseudo-labels spread uniformly, so few labels give a flat (spammer-like)
    row rather than a confident one.
    """
    if (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, (int, float, np.floating))
        or not (0 <= smoothing < np.inf)
    ):
        raise QualityInputError(f"smoothing: must be a finite number >= 0, got {smoothing!r}", "smoothing")
    post = _evidence(labels, posteriors, None)
    k, w = labels.n_classes, labels.n_workers
    cell = labels.workers * k + labels.labels  # (worker, given label)
    counts = np.empty((w, k, k))
    for c in range(k):
        counts[:, c, :] = np.bincount(cell, weights=post[labels.items, c], minlength=w * k).reshape(w, k)
    counts += smoothing / k
    sums = counts.sum(axis=2, keepdims=True)
    out = np.full_like(counts, 1.0 / k)
    np.divide(counts, sums, out=out, where=sums > 0)
    return out


def _answers(labels: CrowdLabels, answers: Any) -> np.ndarray:
    """`answers` checked: one integer class per item, -1 for an item left out."""
    ans = np.asarray(answers)
    if ans.shape != (labels.n_items,) or ans.dtype.kind not in "iu":
        raise QualityInputError(f"answers: expected {labels.n_items} integer classes, one per item", "answers")
    if len(ans) and (ans.min() < -1 or ans.max() >= labels.n_classes):
        raise QualityInputError(f"answers: classes must be in 0..{labels.n_classes - 1} (or -1)", "answers")
    return ans


def class_confusion(labels: CrowdLabels, answers: Any) -> np.ndarray:
    """(K, K) label counts over the whole crowd: row = the item's answer, column = the label given. Row k's
    off-diagonal cells are how items answered k were labelled otherwise, and which way. `answers` holds one
    class per item (-1: left out); O(labels), whatever K."""
    ans = _answers(labels, answers)
    k = labels.n_classes
    row = ans[labels.items].astype(np.int64)
    kept = row >= 0
    return np.bincount(row[kept] * k + labels.labels[kept], minlength=k * k).reshape(k, k)


def top_confusions(counts: np.ndarray, top: int = 8, min_count: int = 3) -> list[tuple[int, int, int, float]]:
    """The `top` largest off-diagonal cells of a `class_confusion` table with at least `min_count` labels,
    largest first (ties: lowest answer, then given), as (answer, given, labels, share of the answer's row)."""
    off = np.array(counts, dtype=np.int64)
    np.fill_diagonal(off, 0)
    rows = np.asarray(counts).sum(axis=1)
    order = np.argsort(-off, axis=None, kind="stable")[:top]
    return [(int(a), int(g), int(off[a, g]), float(off[a, g] / rows[a]))
            for a, g in zip(*np.unravel_index(order, off.shape)) if off[a, g] >= max(min_count, 1)]  # 0/0: NaN


@dataclass(frozen=True)
class Slips:
    """Each worker's most frequent habitual slip (-1 / 0 where none): items answered `answer` labelled
    `given` by that worker `count` times, out of the `of` labels they gave items answered `answer`."""

    answer: np.ndarray
    given: np.ndarray
    count: np.ndarray
    of: np.ndarray


def top_slips(labels: CrowdLabels, answers: Any, min_count: int = 3, min_share: float = 0.1,
              concentration: float = 2.0) -> Slips:
    """Per worker, the (answer, label given) pair they get wrong most often where it is a habit to correct
    (fox taken for wolf) rather than noise: at least `min_count` times, at least `min_share` of the labels
    they gave items with that answer, and (beyond two classes) at least `concentration` times their errors
    on that answer spread evenly over the other labels. A worker right 98% of the time with errors spread
    evenly has none, however many labels they give; a fixed count alone gave every busy worker one.
    Ties go to the lowest (answer, given); O(labels log labels)."""
    ans = _answers(labels, answers)
    k, n_w = labels.n_classes, labels.n_workers
    row = ans[labels.items].astype(np.int64)
    kept = row >= 0
    w, a, g = labels.workers[kept], row[kept], labels.labels[kept]
    of = np.bincount(w * k + a, minlength=n_w * k)
    slip = a != g
    wrong = np.bincount(w[slip] * k + a[slip], minlength=n_w * k)  # per (worker, answer): labels otherwise
    keys, counts = np.unique((w[slip] * k + a[slip]) * k + g[slip], return_counts=True)
    pair = keys // k  # worker * k + answer
    habit = (counts >= min_count) & (counts >= min_share * of[pair])
    if k > 2:
        habit &= counts >= concentration * wrong[pair] / (k - 1)
    keys, counts = keys[habit], counts[habit]
    worker = keys // (k * k)
    order = np.lexsort((-counts, worker))  # by worker, most frequent first; np.unique sorted keys: ties lowest
    first = order[np.r_[True, worker[order][1:] != worker[order][:-1]]] if len(order) else order
    out = Slips(np.full(n_w, -1), np.full(n_w, -1), np.zeros(n_w, np.int64), np.zeros(n_w, np.int64))
    wf = worker[first]
    out.answer[wf] = keys[first] // k % k
    out.given[wf] = keys[first] % k
    out.count[wf] = counts[first]
    out.of[wf] = of[keys[first] // k]
    return out


def label_decisions(labels: CrowdLabels, answers: Any, n_labels: int) -> np.ndarray:
    """Multilabel: (W, labels, 2, 2) counts of each worker's yes/no decisions by label, answer (0 no, 1 yes)
    and what they said. `labels` is the yes/no crowd with one row per (item, label), row = item * n_labels +
    label; `answers` its yes/no answers (-1: left out)."""
    ans = _answers(labels, answers)
    n_w, k = labels.n_workers, int(n_labels)
    row = ans[labels.items].astype(np.int64)
    kept = row >= 0
    w, item, said, a = labels.workers[kept], labels.items[kept], labels.labels[kept], row[kept]
    return np.bincount(((w * k + item % k) * 2 + a) * 2 + said, minlength=n_w * k * 4).reshape(n_w, k, 2, 2)


def top_label_slips(labels: CrowdLabels, answers: Any, n_labels: int, min_count: int = 3, min_share: float = 0.1,
                    alpha: float = 0.01) -> Slips:
    """Multilabel: per worker, the label they most often miss (leave out where the answer has it) or add
    (choose where it has not), where that is a habit: at least `min_count` times, at least `min_share` of
    their rows of that label with that answer, and more often than on their other labels by a one-sided
    two-proportion z-test at `alpha` (Bonferroni over their 2 x labels rates; passes where they have no
    other label to compare with). Every label is a yes/no question, so a worker who slips on 10% of every
    label would otherwise have a "habit" wherever chance put a few more.
    `labels`, `answers` as `label_decisions`. In the result `answer` is the label and `given` the yes/no
    the worker gave: 0 = missed, 1 = added (-1 where none)."""
    table = label_decisions(labels, answers, n_labels)
    n_w, k = labels.n_workers, int(n_labels)
    of = table.sum(axis=3)  # (W, label, answer): the worker's rows of that label with that answer
    counts = np.stack([table[:, :, 0, 1], table[:, :, 1, 0]], axis=2)  # by answer: 0 no -> added, 1 yes -> missed
    habit = (counts >= min_count) & (counts >= min_share * of)
    other_counts = counts.sum(axis=1, keepdims=True) - counts  # the same worker's slips on the other labels
    other_of = of.sum(axis=1, keepdims=True) - of
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (counts + other_counts) / np.maximum(of + other_of, 1)
        se = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(of, 1) + 1 / np.maximum(other_of, 1)))
        z = (counts / np.maximum(of, 1) - other_counts / np.maximum(other_of, 1)) / se
    z = np.where(se > 0, z, -np.inf)  # no spread: both rates 0, or both 1 (slips everywhere: nothing stands out)
    habit &= (other_of == 0) | (z >= -ndtri(alpha / (2 * k)))  # the normal's upper alpha / 2k point
    best = np.where(habit, counts, -1).reshape(n_w, 2 * k)  # column label * 2 + answer
    pick = best.argmax(axis=1)  # the first maximum: lowest label, then "added" before "missed"
    found = best[np.arange(n_w), pick] > 0
    out = Slips(np.full(n_w, -1), np.full(n_w, -1), np.zeros(n_w, np.int64), np.zeros(n_w, np.int64))
    wf, col = np.flatnonzero(found), pick[found]
    out.answer[wf] = col // 2
    out.given[wf] = 1 - col % 2  # answer no -> said yes (added); answer yes -> said no (missed)
    out.count[wf] = best[wf, col]
    out.of[wf] = of.reshape(n_w, 2 * k)[wf, col]
    return out


def worker_stats(
    labels: CrowdLabels,
    posteriors: Any = None,
    *,
    truth: Any = None,
    level: float = 0.95,
    prior: Prior = "uniform",
    confusion: Any = None,
    smoothing: float = 1.0,
) -> WorkerStats:
    """Accuracy (Beta posterior mean), its credible interval and a spammer score for every worker.

    Pass item `posteriors` (n_items, K) or `truth` (n_items,) with -1 for unknown items. The spammer
    score uses `confusion` (n_workers, K, K) when given (e.g. a fitted model's), else a confusion
    estimated from the same evidence with `smoothing` pseudo-labels per row.
    Posteriors that already used a worker's labels flatter that worker slightly (no leave-one-out).
    Little evidence gives a low spammer score and a wide interval: read both with `n_scored`.
    """
    post = _evidence(labels, posteriors, truth)
    w = labels.n_workers
    hit = post[labels.items, labels.labels]
    weight = post.sum(axis=1)[labels.items]
    correct = np.bincount(labels.workers, weights=hit, minlength=w).astype(np.float64)
    scored = np.bincount(labels.workers, weights=weight, minlength=w).astype(np.float64)
    mean, lower, upper = accuracy_interval(correct, scored, level, prior)
    if confusion is None:
        conf = confusion_from_posteriors(labels, post, smoothing)
    else:
        conf = np.asarray(confusion, dtype=np.float64)
        if conf.shape != (w, labels.n_classes, labels.n_classes):
            k = labels.n_classes
            raise QualityInputError(f"confusion: expected shape ({w}, {k}, {k}), got {conf.shape}", "confusion")
    return WorkerStats(
        n_labels=np.bincount(labels.workers, minlength=w).astype(np.int64),
        n_scored=scored,
        accuracy=mean,
        lower=lower,
        upper=upper,
        spammer_score=spammer_score(conf),
        level=float(level),
    )
