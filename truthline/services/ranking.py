"""A pairwise project's ranking of what produced its candidates (models, systems): Bradley-Terry scores with
confidence intervals, fitted jointly with the items' preferences (truthline.tasktypes.pairwise.rank), the one
fit the project's answers are refined with (ProjectLabels.ranking)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from truthline.errors import Invalid
from truthline.services.access import project_for
from truthline.services.results import load_in, rounded
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import User
from truthline.tasktypes.pairwise import Ranking


def _ranking(engine: Engine, actor: User, project_id: int, method: str, top: int | None = None) -> Ranking:
    """The project's ranking by `method`, fitted once per label set (memoized); managers and admins only.
    `top` (head to head) is checked after the access rule, as the method is: 403/404 come first."""
    with read_tx(engine) as conn:
        data = load_in(engine, conn, actor, project_id)  # the labels and side ids of one snapshot
        if data.project.task_type != "pairwise":
            raise Invalid(f"only pairwise projects have a ranking; this one is {data.project.task_type}",
                          field="project_id")
        if top is not None:
            check_top(top)
    return data.ranking(method)  # the fit the project's answers are refined with (ProjectLabels.infer)


def project_ranking(engine: Engine, actor: User, project_id: int, method: str = "auto") -> dict[str, Any]:
    """Managers and admins: {method, level, items, unranked_items, converged, ranking: [{id, score, stderr,
    lower, upper, comparisons, wins, losses, ties}]}, best first."""
    fit = _ranking(engine, actor, project_id, method)
    rows = [{"id": name, "score": rounded(s), "stderr": rounded(se), "lower": rounded(lo), "upper": rounded(hi),
             "comparisons": int(n), "wins": int(won), "losses": int(lost), "ties": int(tied)}
            for name, s, se, lo, hi, n, won, lost, tied in zip(
                fit.ids, fit.scores.tolist(), fit.stderr.tolist(), fit.lower.tolist(), fit.upper.tolist(),
                fit.comparisons.tolist(), fit.wins.tolist(), fit.losses.tolist(), fit.ties.tolist(), strict=True)]
    return {"method": method, "level": fit.level, "items": fit.items, "unranked_items": fit.unranked,
            "converged": fit.converged, "ranking": rows}


DEFAULT_TOP = 10
MAX_TOP = 50  # sides in a head-to-head table: 50 x 49 cells is already more than a page reads


def win_percent(p: float) -> str:
    """A win probability in whole percent, as the CLI and the manager page show it: never 0% or 100%, which would
    read as certain."""
    return "<1%" if p < 0.005 else ">99%" if p >= 0.995 else f"{100 * p:.0f}%"


def check_top(top: Any) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise Invalid(f"top: must be a whole number from 1 to {MAX_TOP}, got {top!r}", field="top")


def _record(duels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Among the best k sides, per ordered pair (row, column): items that compared exactly these two, and the
    row side's wins and the ties among them, by the items' inferred answers."""
    a, b, answer = duels[:, 0], duels[:, 1], duels[:, 2]
    both = (a < k) & (b < k)
    a, b, answer = a[both], b[both], answer[both]

    def count(rows: np.ndarray, cols: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(rows[mask] * k + cols[mask], minlength=k * k).reshape(k, k)

    everything = np.ones(len(a), dtype=bool)
    items = count(a, b, everything) + count(b, a, everything)
    wins = count(a, b, answer == 0) + count(b, a, answer == 1)
    ties = count(a, b, answer == 2) + count(b, a, answer == 2)
    return items, wins, ties


def head_to_head(engine: Engine, actor: User, project_id: int, method: str = "auto",
                 top: int = DEFAULT_TOP) -> dict[str, Any]:
    """Managers and admins: the best `top` sides of the ranking (1 to 50), and per ordered pair the predicted
    P(row beats column) (ties aside) with its interval at `level`, `better` (True: the row side is significantly
    better, False: worse, None: the data cannot tell yet) and their direct record (items comparing exactly these
    two: the row side's wins, losses and ties). Above the fit's dense limit (2000 sides) the intervals use the
    scores' variances alone (`exact_covariance` false), as the ranking's intervals do there."""
    from truthline.quality.pairwise import head_to_head as predicted  # here: importing this module must not
    # load SciPy

    fit = _ranking(engine, actor, project_id, method, top=top)
    k = min(top, len(fit.ids))
    exact = fit.covariance is not None
    h = predicted(fit.scores[:k], fit.covariance[:k, :k] if exact else fit.stderr[:k] ** 2, fit.level)
    items, wins, ties = _record(fit.duels, k)
    better = {1: True, -1: False, 0: None}
    sides = [{"id": fit.ids[i], "score": rounded(fit.scores[i]),
              "versus": [{"id": fit.ids[j], "win_probability": rounded(h.win[i, j]), "lower": rounded(h.lower[i, j]),
                          "upper": rounded(h.upper[i, j]), "better": better[int(h.better[i, j])],
                          "items": int(items[i, j]), "wins": int(wins[i, j]),
                          "losses": int(items[i, j] - wins[i, j] - ties[i, j]), "ties": int(ties[i, j])}
                         for j in range(k) if j != i]}
             for i in range(k)]
    return {"method": method, "level": fit.level, "ranked": len(fit.ids), "items": fit.items,
            "exact_covariance": exact, "converged": fit.converged, "sides": sides}


def first_candidates(engine: Engine, actor: User, project_id: int) -> dict[str, tuple[Any, Any]]:
    """Managers and admins: external_id -> the item's own A candidate (text, image URL). A client that knows
    the items (simulate) tells by it whether a task shows them in the other order: the task never says so,
    since "A" is often the requester's own model and a worker told the order would know which one that is."""
    with read_tx(engine) as conn:
        project = project_for(conn, actor, project_id, manage=True)[0]
        rows = item_store.data_fields(conn, project.id, ("a", "a_image_url"))
    return {external_id: (a, url) for _, external_id, a, url in rows}
