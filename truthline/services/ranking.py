"""A pairwise project's ranking of what produced its candidates (models, systems): Bradley-Terry scores with
confidence intervals, fitted jointly with the items' preferences (truthline.tasktypes.pairwise.rank)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from truthline import offload
from truthline.errors import Invalid
from truthline.services.results import ProjectLabels, load_in, rounded
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import User
from truthline.tasktypes.pairwise import Ranking, rank, side_id


def _sides(rows: list[tuple[int, Any, Any]], item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per item index: the index of its a_id and b_id in the returned ids (-1 where it names none)."""
    side_a = np.full(len(item_ids), -1, dtype=np.int64)
    side_b = np.full(len(item_ids), -1, dtype=np.int64)
    named = [(i, side_id(a), side_id(b)) for i, a, b in rows if a is not None and b is not None]
    ids = sorted({name for _, a, b in named for name in (a, b)})
    index = {name: k for k, name in enumerate(ids)}
    if named:
        where = np.searchsorted(item_ids, np.fromiter((i for i, _, _ in named), np.int64, len(named)))
        side_a[where] = [index[a] for _, a, _ in named]
        side_b[where] = [index[b] for _, _, b in named]
    return side_a, side_b, ids


def _fit(data: ProjectLabels, method: str, sides: tuple[np.ndarray, np.ndarray, list[str]]) -> Ranking:
    inf = data.infer(method)
    side_a, side_b, ids = sides
    return offload.call(rank, side_a, side_b, ids, inf.probabilities, size=len(data.labels.items))


def project_ranking(engine: Engine, actor: User, project_id: int, method: str = "auto") -> dict[str, Any]:
    """Managers and admins: {method, level, items, unranked_items, converged, ranking: [{id, score, stderr,
    lower, upper, comparisons, wins, losses, ties}]}, best first."""
    with read_tx(engine) as conn:
        data = load_in(engine, conn, actor, project_id)  # the labels and item ids of this same snapshot
        if data.project.task_type != "pairwise":
            raise Invalid(f"only pairwise projects have a ranking; this one is {data.project.task_type}",
                          field="project_id")
        sides = data.memo("sides", lambda: _sides(item_store.pair_sides(conn, data.project.id), data.item_ids))
    fit = data.memo(("ranking", method), lambda: _fit(data, method, sides))
    rows = [{"id": name, "score": rounded(s), "stderr": rounded(se), "lower": rounded(lo), "upper": rounded(hi),
             "comparisons": int(n), "wins": int(won), "losses": int(lost), "ties": int(tied)}
            for name, s, se, lo, hi, n, won, lost, tied in zip(
                fit.ids, fit.scores.tolist(), fit.stderr.tolist(), fit.lower.tolist(), fit.upper.tolist(),
                fit.comparisons.tolist(), fit.wins.tolist(), fit.losses.tolist(), fit.ties.tolist(), strict=True)]
    return {"method": method, "level": fit.level, "items": fit.items, "unranked_items": fit.unranked,
            "converged": fit.converged, "ranking": rows}
