"""The manager page's view model: the results services' figures, shaped for manage.html.

Kept apart from routes.py so the shaping (shares, merging worker rows) is readable on its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from truthline.quality import METHODS
from truthline.services import dashboard as quality_service
from truthline.services import results


def can_manage(user: Any, role: str | None) -> bool:
    """Admins and the project's managers see the dashboard (the services enforce the same rule)."""
    return bool(getattr(user, "is_admin", False) or role == "manager")


def method_names() -> list[str]:
    """Methods for the picker, the product default first."""
    return ["auto"] + sorted(m for m in METHODS if m != "auto")


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
        "methods": method_names(),
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
            "models": report["models"],
            "temperature": report["temperature"],
            "temperature_gold_items": report["temperature_gold_items"],
            "per_label": report["per_label"],
            "calibration": report["calibration"],
            "confusion": report["confusion"],
        },
        "workers": workers,
        # Room for the longest label (about 7 px per character at 12 px, at most 22 characters shown).
        "chart": {"label_width": min(160, 12 + 7 * max((len(d["label"]) for d in distribution), default=1))},
        "level_pct": round(100 * report["level"]),
    }
