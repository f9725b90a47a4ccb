"""The manager page's view model: the results services' figures, shaped for manage.html.

Kept apart from routes.py so the shaping (shares, merging worker rows) is readable on its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from truthline.quality import METHODS
from truthline.services import dashboard as quality_service
from truthline.services import ranking as ranking_service
from truthline.services import results
from truthline.services.ranking import win_percent
from truthline.tasktypes.numeric import METHODS as NUMERIC_METHODS
from truthline.tasktypes.numeric import range_text  # the home page's filter too


def can_manage(user: Any, role: str | None) -> bool:
    """Admins and the project's managers see the dashboard (the services enforce the same rule)."""
    return bool(getattr(user, "is_admin", False) or role == "manager")


def method_names(task_type: str = "") -> list[str]:
    """Methods for the picker, the product default first: a numeric project's own few (it refuses the rest)."""
    names = NUMERIC_METHODS if task_type == "numeric" else METHODS
    return ["auto"] + sorted(m for m in names if m != "auto")


def default_method(task_type: str, configured: str) -> str:
    """The method a page without ?method= shows: the configured default where the project takes it, else auto
    (TRUTHLINE_DEFAULT_METHOD=glad must not turn a numeric project's page into an error)."""
    return configured if configured in method_names(task_type) else "auto"


def numeric_figures(project: Any, report: dict[str, Any]) -> dict[str, Any] | None:
    """What a numeric project's page adds: its range in words, its tolerance, the ordinal alpha and the error
    against hidden truth. None for other task types (Project.range is None for them)."""
    if project.range is None:
        return None
    return {"range": range_text(project.range), "tolerance": project.tolerance or 0,
            "alpha_ordinal": report["agreement"].get("krippendorff_alpha_ordinal"),
            "error_vs_truth": report.get("error_vs_truth")}


HEATMAP_MAX_CLASSES = 12  # beyond, the cells are too small to read: the page lists the top confusions only
HEAD_CHARS = 14  # characters of a label shown as a heat-map row or column head
CHAR_PX = 8  # a character's width at the chart's 12 px, with room to spare (wide ones run to 7.5)


def middle_short(name: str, limit: int = HEAD_CHARS) -> str:
    """`name` within `limit` characters, cut in the middle: labels sharing a long prefix (Mammal:Canis:lupus,
    Mammal:Canis:vulpes) stay apart by their ends."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    return f"{name[:head]}…{name[len(name) - (limit - 1 - head):]}"


def heatmap(confusion: dict[str, Any] | None) -> dict[str, Any] | None:
    """The confusion counts shaped for the heat map: each row's cells as shares, the text a screen reader
    gets, and the chart's geometry (room for the longest head, the last rotated one and the caption)."""
    if not confusion or confusion["counts"] is None or len(confusion["labels"]) > HEATMAP_MAX_CLASSES:
        return None
    names = confusion["labels"]
    rows, desc = [], []
    for name, counts in zip(names, confusion["counts"]):
        total = sum(counts)
        cells = [{"given": given, "count": c, "share": c / total if total else 0.0} for given, c in zip(names, counts)]
        rows.append({"name": name, "head": middle_short(name), "cells": cells})
        said = ", ".join(f"{c['given']} {100 * c['share']:.1f}%" for c in cells if c["count"])
        desc.append(f"Items answered {name}: {said or 'no labels'}.")
    cell, head_px = 40, CHAR_PX * max(len(r["head"]) for r in rows)
    left, top = 12 + head_px, 16 + round(head_px * 0.87)  # column heads are turned 60 degrees
    width = max(left + cell * len(names) + round(head_px * 0.5) + 4, left + 170)
    return {"rows": rows, "desc": " ".join(desc), "cell": cell, "left": left, "top": top, "width": width,
            "height": top + cell * len(names) + 24}


FOREST_WIDTH = 600  # the forest plot's viewBox width
FOREST_ROW = 24  # px per ranked side
FOREST_HEAD_CHARS = 22  # characters of a side's id shown beside its row (the table has it whole)


def forest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The ranking shaped for a forest plot: per side (best first) its score's dot and interval's line on one
    x scale that always takes in 0 (the average side), the text a screen reader gets, and the chart's geometry.
    None without rows."""
    if not rows:
        return None
    values = [0.0] + [v for r in rows for v in (r["score"], r["lower"], r["upper"]) if v is not None]
    least, most = min(values), max(values)
    pad = 0.05 * (most - least) or 0.5  # room at the ends; a flat ranking (every score 0) still gets a scale
    low, high = least - pad, most + pad
    heads = [middle_short(r["id"], FOREST_HEAD_CHARS) for r in rows]
    left = 12 + CHAR_PX * max(len(h) for h in heads)
    right = FOREST_WIDTH - 16
    top = 6

    def x(v: float) -> float:
        return round(left + (right - left) * (v - low) / (high - low), 1)

    drawn, desc = [], []
    for k, (r, head) in enumerate(zip(rows, heads)):
        y = top + FOREST_ROW * k + FOREST_ROW / 2
        has_interval = r["lower"] is not None and r["upper"] is not None
        drawn.append({"id": r["id"], "head": head, "y": y,
                      "x": None if r["score"] is None else x(r["score"]),
                      "x1": x(r["lower"]) if has_interval else None, "x2": x(r["upper"]) if has_interval else None,
                      "score": r["score"], "lower": r["lower"], "upper": r["upper"]})
        interval = f" ({r['lower']:.2f} to {r['upper']:.2f})" if has_interval else ""
        score = "no score" if r["score"] is None else f"{r['score']:.2f}"
        desc.append(f"{k + 1}. {r['id']}: {score}{interval}.")
    bottom = top + FOREST_ROW * len(rows)
    # the axis: 0 and the plot's ends, each labelled where it does not crowd 0's label
    ticks = [{"x": x(0.0), "text": "0"}] + [{"x": x(v), "text": f"{v:+.2f}"} for v in (least, most)
                                             if abs(x(v) - x(0.0)) > 40]
    return {"rows": drawn, "desc": " ".join(desc), "left": left, "right": right, "top": top, "bottom": bottom,
            "zero": x(0.0), "ticks": ticks, "height": bottom + 34, "width": FOREST_WIDTH}


VERSUS_TOP = 10  # sides in the page's head-to-head table: 10 columns still fit a laptop's width
VERSUS_HEAD_CHARS = 12  # characters of a side's id as a column head (the title and row head have it whole)


def _record_text(cell: dict[str, Any]) -> str:
    if not cell["items"]:
        return "never compared directly"
    ties = f", {_plural(cell['ties'], 'tie')}" if cell["ties"] else ""
    return (f"{_plural(cell['items'], 'item')} compared them directly: {_plural(cell['wins'], 'win')}, "
            f"{_plural(cell['losses'], 'loss', 'losses')}{ties}")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def versus_table(report: dict[str, Any]) -> dict[str, Any] | None:
    """The head-to-head report shaped for the page's table: per cell its percentage, a mark (▲ significantly
    better, ▼ worse: the meaning is in the text, not only the shade), a shade step 0-10 by the win probability
    (CSS classes: the page's CSP allows no inline style) and a title with the interval and the direct record.
    None with fewer than 2 sides or no answered item (nothing told apart: every cell would read 50%)."""
    sides = report["sides"]
    if len(sides) < 2 or not report["items"]:
        return None
    level = round(100 * report["level"])
    verdict = {True: "significantly better", False: "significantly worse", None: "not told apart yet"}
    rows = []
    for side in sides:
        by_id = {cell["id"]: cell for cell in side["versus"]}
        cells = []
        for other in sides:
            cell = by_id.get(other["id"])
            if cell is None:  # the side itself
                cells.append(None)
                continue
            p = cell["win_probability"]
            chance, low, high = (win_percent(x) for x in (p, cell["lower"], cell["upper"]))
            cells.append({"text": chance, "better": cell["better"], "shade": round(10 * p),
                          "title": f"{side['id']} beats {other['id']}: {chance} ({level}% interval {low} to "
                                   f"{high}), {verdict[cell['better']]}; {_record_text(cell)}"})
        rows.append({"id": side["id"], "cells": cells})
    heads = [{"id": side["id"], "head": middle_short(side["id"], VERSUS_HEAD_CHARS)} for side in sides]
    return {"rows": rows, "heads": heads, "level_pct": level, "ranked": report["ranked"],
            "exact_covariance": report["exact_covariance"]}


def pairwise_ranking(engine: Engine, user: Any, project: Any, method: str) -> dict[str, Any] | None:
    """A pairwise project's ranking of what produced its candidates, by `method` (the page's own), with its
    forest plot and the best sides head to head. None for other task types."""
    if project.task_type != "pairwise":
        return None
    result = ranking_service.project_ranking(engine, user, project.id, method)
    versus = None
    if len(result["ranking"]) >= 2 and result["items"]:  # the same memoized fit: no second one
        versus = versus_table(ranking_service.head_to_head(engine, user, project.id, method, VERSUS_TOP))
    return {**result, "level_pct": round(100 * result["level"]), "forest": forest(result["ranking"]),
            "versus": versus}


def build(engine: Engine, user: Any, project: Any, method: str) -> dict[str, Any]:
    """Everything manage.html shows. The services authorize (managers and admins only)."""
    summary = results.project_summary(engine, user, project.id)
    report = quality_service.quality_report(engine, user, project.id, method)

    progress = summary["progress"]
    total = int(progress.get("items", 0))
    done = int(progress.get("done", 0))

    counts = summary.get("label_distribution") or {}
    top = max(counts.values(), default=0)
    distribution = [{"label": str(label), "count": int(n), "share": n / top if top else 0.0} for label, n in counts.items()]
    if not top:
        distribution = []

    accuracy = []
    acc = summary.get("accuracy") or {}
    if acc.get("against"):
        against = "hidden truth" if acc["against"] == "truth" else acc["against"]
        # The chosen method's own accuracy is only computed against hidden truth (gold clamps it otherwise).
        mine = report.get("accuracy_vs_truth") if acc["against"] == "truth" else None
        accuracy.append({"against": against, "n": acc.get("items", 0), "mv": acc.get("mv"), "ds": acc.get("ds"), "method": mine,
                         # gold is clamped to its answer, so the figures against truth leave it out: say so
                         "gold_left_out": acc["against"] == "truth" and bool(progress.get("gold"))})

    workers = list(report["workers"])
    workers.sort(key=lambda w: (w["accuracy"] is None, -(w["accuracy"] or 0.0), w["username"]))

    return {
        "method": method,
        "methods": method_names(project.task_type),
        "progress": {
            "total": total,
            "complete": done,
            "fraction": done / total if total else None,
            "in_progress": progress.get("leased"),
            "annotations": int(progress.get("labels", 0)),
        },
        "distribution": distribution,
        "quality": {
            "mv_vs_ds": (summary.get("agreement") or {}).get("mv_vs_ds"),
            "accuracy": accuracy,
            "alpha": report["agreement"]["krippendorff_alpha"],
            "kappa": report["agreement"]["fleiss_kappa"],
            "alpha_interval": report["agreement"].get("krippendorff_alpha_interval"),  # rating, numeric
            "scale": project.scale,
            "numeric": numeric_figures(project, report),
            "models": report["models"],
            "temperature": report["temperature"],
            "temperature_gold_items": report["temperature_gold_items"],
            "per_label": report["per_label"],
            "calibration": report["calibration"],
            "confusion": report["confusion"],
            "heatmap": heatmap(report["confusion"]),
            "label_misses": report["label_misses"],
        },
        "workers": workers,
        "ranking": pairwise_ranking(engine, user, project, method),
        # Room for the longest label (about 7 px per character at 12 px, at most 22 characters shown).
        "chart": {"label_width": min(160, 12 + 7 * max((len(d["label"]) for d in distribution), default=1))},
        "level_pct": round(100 * report["level"]),
        "min_confusions": quality_service.MIN_CONFUSIONS,
    }
