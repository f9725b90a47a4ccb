"""Pairwise preference: each item shows two candidates, `a` and `b` (two models' answers to one prompt, two
summaries, two images), and a worker picks the better one, or "tie" where the project allows ties.

Answers are the labels "a", "b" (and "tie"), so truth inference treats a pair as a classification: a worker's
confusion matrix shows a position bias (always "a"), which Dawid-Skene and `auto` correct for. Where items name
what produced each side (`a_id`, `b_id`: a model, a system, a prompt version), the project also ranks those
(`ranking`): Bradley-Terry scores with confidence intervals, fitted jointly with each item's preference, and
those items' answers weigh the crowd's evidence with the strengths the other items show (`strength_informed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from truthline.errors import Invalid, Problem, shown
from truthline.tasktypes.base import Inference
from truthline.tasktypes.classification import Classification

LABELS = ("a", "b")
TIE = "tie"
MAX_ID = 200  # characters in a side's id (a model or system name)
SIDES = (("a", "a_image_url"), ("b", "b_image_url"))
HIDDEN = ("a_id", "b_id")  # never sent to annotators
_SWAP = {"a": "b", "b": "a", "a_image_url": "b_image_url", "b_image_url": "a_image_url"}  # keys and answers
_SIDE_KEYS = tuple(key for side in SIDES for key in side)  # a, a_image_url, b, b_image_url: the order annotators
# get them in
# in an id: a newline or an escape sequence would redraw the terminal of whoever runs `truthline ranking`; a NUL
# makes PostgreSQL's `data ->> 'a_id'` fail (every ranking and manager page of the project a 500) and SQLite
# cut the id short (two models merged)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def side_id(value: Any) -> Any:
    """What produced a candidate, as the ranking and exports name it: " gpt-4" and "gpt-4" are one model."""
    return value.strip() if isinstance(value, str) else value


def pair_labels(ties: bool) -> list[str]:
    return [*LABELS, TIE] if ties else list(LABELS)


class Pairwise(Classification):
    name = "pairwise"
    widget = "pairwise"
    options = ("ties", "random_order")

    def validate_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        ties, random_order = config.get("ties"), config.get("random_order", True)
        for key, value in (("ties", ties), ("random_order", random_order)):
            if value is not None and not isinstance(value, bool):
                raise Invalid(f"must be true or false, got {shown(value)}", field=key)
        given = config.get("labels")
        if given is not None:  # the labels are fixed: given, they may only say whether ties are allowed
            if not isinstance(given, list) or given not in (pair_labels(False), pair_labels(True)):
                raise Invalid(f"a pairwise project's labels are {pair_labels(False)} or {pair_labels(True)} (with "
                              f"ties); leave them out and set ties instead, got {shown(given)}", field="labels")
            if ties is not None and ties != (TIE in given):
                raise Invalid(f"labels and ties disagree: ties is {str(ties).lower()}; give one of them",
                              field="labels")
            ties = TIE in given
        return {"labels": pair_labels(bool(ties)), "ties": bool(ties), "random_order": random_order is not False}

    def validate_item(self, data: Any, field: str = "data") -> list[Problem]:
        problems = super().validate_item(data, field)  # the shared context: text (the prompt), image
        if not isinstance(data, dict) or not data:
            return problems
        for text_key, url_key in SIDES:
            text, url = data.get(text_key), data.get(url_key)
            if text is None and url is None:
                problems.append(Problem(f"is required: the {text_key.upper()} candidate's text (or give "
                                        f"{url_key})", field=f"{field}.{text_key}"))
            if text is not None and not isinstance(text, str):
                problems.append(Problem(f"must be a string, got {type(text).__name__}", field=f"{field}.{text_key}"))
            if url is not None and (not isinstance(url, str)
                                    or not url.lower().startswith(("http://", "https://", "/"))):
                problems.append(Problem("must be an http(s) URL or a path starting with /", field=f"{field}.{url_key}"))
        ids = {key: data.get(key) for key in ("a_id", "b_id")}
        for key, value in ids.items():
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > MAX_ID):
                problems.append(Problem(f"must be a non-empty string of at most {MAX_ID} characters naming what "
                                        f"produced the candidate (a model, a system), got {shown(value)}",
                                        field=f"{field}.{key}"))
            elif isinstance(value, str) and _CONTROL.search(value):
                problems.append(Problem(f"must not contain control characters (newlines, tabs, escapes, NUL), got "
                                        f"{shown(value)}", field=f"{field}.{key}"))
        if (ids["a_id"] is None) != (ids["b_id"] is None):
            missing = "b_id" if ids["b_id"] is None else "a_id"
            problems.append(Problem("is required when the other side has an id (the ranking compares the two)",
                                    field=f"{field}.{missing}"))
        elif isinstance(ids["a_id"], str) and ids["a_id"].strip() == str(ids["b_id"]).strip():
            problems.append(Problem(f"must differ from a_id: a candidate is not compared with itself "
                                    f"({shown(ids['a_id'])})", field=f"{field}.b_id"))
        return problems

    def annotator_data(self, data: dict[str, Any], swapped: bool = False) -> dict[str, Any]:
        # blind comparison: a worker who sees "gpt-x" beside a candidate judges the name, not the text
        rename = _SWAP if swapped else {}
        sides = {rename.get(k, k): v for k, v in data.items() if k in _SWAP}
        shown: dict[str, Any] = {}
        for k, v in data.items():
            if k in _SWAP:  # the candidates in one fixed key order where the first one stood: the JSON's order
                # must not tell a swapped lease ("b" before "a") from the imported order
                shown.update((key, sides[key]) for key in _SIDE_KEYS if key in sides and key not in shown)
            elif k not in HIDDEN:
                shown[k] = v
        return shown

    def swaps(self, config: Mapping[str, Any]) -> bool:
        # workers favour the first candidate (about 30% of simulate's do): in a random order per lease that
        # bias falls on both sides alike instead of on whatever the requester put first
        return config.get("random_order", True) is not False

    def as_stored(self, answer: Any, swapped: bool) -> Any:
        return _SWAP.get(answer, answer) if swapped and answer in LABELS else answer

    def validate_answer(self, answer: Any, config: Mapping[str, Any], field: str = "answer") -> str:
        labels = config["labels"]
        choice = answer.strip().lower() if isinstance(answer, str) else answer
        if choice not in labels:
            allowed = "a (the first candidate), b (the second)" + (" or tie" if TIE in labels else
                                                                    "; this project takes no ties")
            raise Invalid(f"{shown(answer)} is not a choice here: {allowed}", field=field)
        return str(choice)

    def describe(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().describe(config), "ties": bool(config.get("ties"))}


@dataclass(frozen=True)
class Sides:
    """Per item index: the position in `ids` of what produced its a and b candidates (-1 where it names none)."""

    a: np.ndarray
    b: np.ndarray
    ids: list[str]

    @property
    def named(self) -> bool:
        """Whether any item names both sides (without one there is nothing to rank or to refine)."""
        return bool(np.any((self.a >= 0) & (self.b >= 0)))


def side_indices(rows: Sequence[tuple[int, Any, Any]], item_ids: np.ndarray) -> Sides:
    """Sides from (item id, a_id, b_id) rows (store.items.fields_present; rows naming no id are skipped);
    item_ids: the sorted item axis of inference, read in the same snapshot, so it holds every row's item."""
    side_a = np.full(len(item_ids), -1, dtype=np.int64)
    side_b = np.full(len(item_ids), -1, dtype=np.int64)
    named = [(i, side_id(a), side_id(b)) for i, a, b in rows if a is not None and b is not None]
    ids = sorted({name for _, a, b in named for name in (a, b)})
    index = {name: k for k, name in enumerate(ids)}
    if named:
        where = np.searchsorted(item_ids, np.fromiter((i for i, _, _ in named), np.int64, len(named)))
        side_a[where] = [index[a] for _, a, _ in named]
        side_b[where] = [index[b] for _, _, b in named]
    return Sides(side_a, side_b, ids)


@dataclass(frozen=True)
class Ranking:
    """Per side id, best first: Bradley-Terry score (log-strength, centred on 0), its standard error and
    interval at `level`, items compared, and wins, losses and ties by the items' inferred answers; the scores'
    Laplace covariance in the same order (None above evidence_bradley_terry's max_dense sides: stderr alone), and
    per item in the fit its a and b sides' positions in `ids` and its answer (0 a, 1 b, 2 tie), from which
    head-to-head records are counted; and those items' indices (`fitted`, the order of `duels`) with their
    strength-informed posteriors over the labels (`outcome`, read by `strength_informed`)."""

    ids: list[str]
    scores: np.ndarray
    stderr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    comparisons: np.ndarray
    wins: np.ndarray
    losses: np.ndarray
    ties: np.ndarray
    level: float
    items: int  # items that entered the fit
    unranked: int  # items with an answer but no side ids
    converged: bool
    covariance: np.ndarray | None
    duels: np.ndarray  # (items, 3) int64: a's position, b's position, answer
    fitted: np.ndarray  # (items,) int64: item index
    outcome: np.ndarray  # (items, labels): P(a), P(b) (and P(tie)) given the crowd's evidence and the strengths


def rank(side_a: np.ndarray, side_b: np.ndarray, ids: list[str], probabilities: np.ndarray,
         level: float = 0.95) -> Ranking:
    """Bradley-Terry over the sides' ids. side_a, side_b: per item, the index into `ids` of what produced each
    candidate (-1: none); probabilities: per item, P(a), P(b) (and P(tie)) from truth inference, NaN rows where
    the item has no answer. Each item counts once, as a win of a with probability P(a) + P(tie) / 2 and of b
    with the rest, those probabilities refitted with the strengths (`_with_strengths`): an interval counts
    compared items, not the labels on them (five labels on one prompt say more about that prompt, not more about
    the model).
    Wins, losses and ties count the items' answers as results and exports give them: the refitted ones
    (`strength_informed`; a gold item's is its gold answer either way)."""
    answered = ~np.isnan(probabilities[:, 0]) if len(probabilities) else np.zeros(0, dtype=bool)
    paired = (side_a >= 0) & (side_b >= 0)
    use = np.flatnonzero(answered & paired)
    a, b, p = side_a[use], side_b[use], probabilities[use]
    n = len(ids)
    fit = _with_strengths(a, b, p, n, level)
    outcome = _normalized(fit.outcome)
    choice = outcome.argmax(axis=1) if len(p) else np.zeros(0, np.int64)
    won_a, won_b, tied = choice == 0, choice == 1, choice == 2
    count = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    order = np.lexsort((-fit.scores, count == 0))  # best first; a side no answered item compared (score 0,
    # the prior's) last, not between the winners and the losers
    wins = np.bincount(a, won_a, n) + np.bincount(b, won_b, n)
    losses = np.bincount(a, won_b, n) + np.bincount(b, won_a, n)
    ties = np.bincount(a, tied, n) + np.bincount(b, tied, n)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    cov = None if fit.covariance is None else fit.covariance[np.ix_(order, order)]
    duels = np.stack([position[a], position[b], choice], axis=1).astype(np.int64)
    return Ranking([ids[i] for i in order], fit.scores[order], fit.stderr[order], fit.lower[order],
                   fit.upper[order], count[order], wins[order].astype(np.int64), losses[order].astype(np.int64),
                   ties[order].astype(np.int64), fit.level, len(use), int(np.sum(answered & ~paired)),
                   fit.converged, cov, duels, use.astype(np.int64), outcome)


def _normalized(q: np.ndarray) -> np.ndarray:
    """Posterior rows as probabilities: the tie column is 1 - P(a) - P(b), a hair below 0 in rounding."""
    q = np.clip(q, 0.0, None)
    return q / q.sum(axis=1, keepdims=True)


def _with_strengths(a: np.ndarray, b: np.ndarray, p: np.ndarray, n: int, level: float) -> Any:
    """Bradley-Terry fitted jointly with the items' preferences.

    Truth inference gives each item a posterior under one class prior for all items: an item the crowd is unsure
    about sits near a coin toss whoever wrote its candidates, which pulls every score toward 0 (fitted on those
    posteriors, a third to three quarters of the intervals in benchmarks/pairwise.py held the true strength). The strengths are a better
    prior: the crowd's evidence on an item is its posterior over the class prior it was fitted with (the mean
    posterior, as Dawid-Skene's M-step sets it), read against P(a) = sigmoid(s_a - s_b), ties keeping their
    overall share (quality.pairwise.evidence_bradley_terry). A confident item stays as the crowd said; a gold
    one stays clamped."""
    from truthline.quality.pairwise import evidence_bradley_terry

    prior = p.mean(axis=0) if len(p) else np.zeros(p.shape[1])
    evidence = np.divide(p, prior, out=np.zeros_like(p), where=prior > 0)
    tie = float(prior[2]) if p.shape[1] > 2 else 0.0
    return evidence_bradley_terry(a, b, evidence, n_items=n, tie_share=min(tie, 0.999), level=level)


def strength_informed(inf: Inference, ranking: Ranking, names: Sequence[str], clamped: Iterable[int]) -> Inference:
    """`inf` (the crowd's truth inference, which `ranking` was fitted on) with each item in the fit answered by
    its posterior given the crowd's evidence AND the strengths (`ranking.outcome`): the crowd's posterior uses
    one class prior for every item, where a prompt the crowd split between a model that wins everywhere else and
    one that loses is better read through the two. Items outside the fit (no side ids, no answer) and
    `clamped` ones (gold) keep the crowd's answer. The fit's posteriors change alike, so the workers' accuracy
    and the calibration read the same answers; its other fields (auto's temperature, the confusions) stay."""
    rows = ranking.fitted
    keep = np.isin(rows, np.fromiter(clamped, np.int64))
    rows, outcome = rows[~keep], ranking.outcome[~keep]
    if len(rows) == 0 or inf.probabilities is None:
        return inf
    probabilities = inf.probabilities.copy()
    probabilities[rows] = outcome
    confidence = inf.confidence.copy()
    confidence[rows] = outcome.max(axis=1)
    answers = list(inf.answers)
    for i, k in zip(rows.tolist(), outcome.argmax(axis=1).tolist(), strict=True):
        answers[i] = names[k]
    fit = inf.fit
    if getattr(fit, "posteriors", None) is not None:  # a quality Aggregate: its answers and confidence follow
        posteriors = fit.posteriors.copy()
        posteriors[rows] = outcome
        fit = replace(fit, posteriors=posteriors)
    return replace(inf, answers=answers, confidence=confidence, probabilities=probabilities, fit=fit)


__all__ = ["Pairwise", "Ranking", "Sides", "pair_labels", "rank", "side_id", "side_indices", "strength_informed"]
