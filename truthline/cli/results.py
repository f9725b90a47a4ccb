"""Result commands: `aggregate` (inferred answers + summary) and `workers` (estimated worker quality)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .context import DbOption, console, handle_errors, method_or_default, state
from .data import ProjectArg, resolve_project

METHOD_HELP = "Truth inference: auto, mv (majority vote), ds (Dawid-Skene), ... (default: settings.default_method)."
MethodOption = Annotated[str | None, typer.Option("--method", help=METHOD_HELP)]
LimitOption = Annotated[int, typer.Option("--limit", help="Rows to show (0: all).")]


def check_limit(limit: int) -> None:
    """A negative --limit would slice rows off the end, silently: refuse it."""
    from truthline.errors import Invalid

    if limit < 0:
        raise Invalid(f"--limit must be 0 (all rows) or more; got {limit}", field="limit")


def as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    return dict(vars(row))


def cell_text(value: Any, key: str = "") -> str:
    """`value` as table text, escaped: labels and ids are user data, not Rich markup."""
    return escape(_text(value, key))


def tempered(temperature: float | None, gold_items: int = 0) -> str:
    """"; confidences tempered (τ 0.33)" when auto softened its posteriors, else ""; with the number of
    gold items that checked it."""
    if temperature is None or temperature >= 1:
        return ""
    checked = f", checked against {gold_items:,} gold items" if gold_items else ""
    return f"; confidences tempered (τ {temperature:.2f}{checked})"


def models_text(models: Mapping[str, float]) -> str:
    """The models `auto` kept, as "ds 0.50, bcc 0.50" (those of weight 0 left out)."""
    return ", ".join(f"{escape(name)} {w:.2f}" for name, w in models.items() if w > 0)


def print_per_label(per_label: Sequence[dict[str, Any]]) -> None:
    """Multilabel `auto`: one line per label, the models it blended for that label and its tempering."""
    if per_label:
        console.print("auto, label by label (each is its own yes/no question):", highlight=False)
    for row in per_label:
        if row["selected"] in (0, row["answers"]):  # one answer throughout: nothing to choose between
            console.print(f"  {cell_text(row['label'])}: {unanimous(row)}", highlight=False)
            continue
        note = tempered(row["temperature"], row["temperature_gold_items"])
        console.print(f"  {cell_text(row['label'])}: {models_text(row['models'])}{note}", highlight=False)


def slip_text(slip: Mapping[str, Any]) -> str:
    """A habitual slip as "fox → wolf (12 of 40)", "misses sweet (4 of 12)" or "adds round (6 of 18)"."""
    if slip["kind"] == "missed":
        said = f"misses {cell_text(slip['answer'])}"
    elif slip["kind"] == "added":
        said = f"adds {cell_text(slip['given'])}"
    else:
        said = f"{cell_text(slip['answer'])} → {cell_text(slip['given'])}"
    return f"{said} ({slip['labels']} of {slip['of']})"


def label_misses(rows: Sequence[Mapping[str, Any]], top: int = 5) -> str:
    """The `top` labels with the highest miss or add rate, as "sweet missed 33% (4 of 12), added 0%"."""
    def rate(n: int, of: int) -> float:
        return n / of if of else 0.0

    worst = sorted(rows, key=lambda r: -max(rate(r["missed"], r["of_yes"]), rate(r["added"], r["of_no"])))[:top]
    return "; ".join(f"{cell_text(r['label'])} missed {rate(r['missed'], r['of_yes']):.0%} ({r['missed']} of "
                     f"{r['of_yes']}), added {rate(r['added'], r['of_no']):.0%} ({r['added']} of {r['of_no']})"
                     for r in worst)


def unanimous(row: Mapping[str, Any]) -> str:
    """What a label every answer chose, or none did, comes to."""
    return "chosen by no answer: no on every item" if row["selected"] == 0 else "chosen by every answer"


def _text(value: Any, key: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and key.endswith("_ms"):
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


@handle_errors
def aggregate(project: ProjectArg, method: MethodOption = None, limit: LimitOption = 20, db: DbOption = None) -> None:
    """Infer each item's answer and confidence from its labels; print a table and a summary."""
    from truthline.services import results

    check_limit(limit)
    method = method_or_default(method)
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    rows = [as_dict(r) for r in results.item_results(engine, actor, proj.id, method=method)]
    rating = proj.scale is not None  # its posterior mean over the scale: what to rank or average items by
    table = Table("external id", "answer", "confidence", *(["estimate"] if rating else []),
                  title=f"Project #{proj.id} · method {method}")
    for r in rows[: limit or None]:
        table.add_row(escape(str(r.get("external_id"))), cell_text(r.get("answer")), cell_text(r.get("confidence")),
                      *([cell_text(r.get("estimate"))] if rating else []))
    console.print(table)
    answered = [r for r in rows if r.get("answer") is not None]
    conf = [float(r["confidence"]) for r in answered if r.get("confidence") is not None]
    dist = Counter(cell_text(r["answer"]) for r in answered)
    console.print(
        f"{len(rows)} items, {len(answered)} with an answer"
        + (f", mean confidence {sum(conf) / len(conf):.3f}" if conf else "")
        + (f"; answers: {', '.join(f'{k} {v}' for k, v in dist.most_common())}" if dist else ""),
        highlight=False,
    )
    for line in summary_lines(engine, actor, proj.id, method):
        console.print(line, highlight=False)


def summary_lines(engine: Any, actor: Any, project_id: int, method: str = "auto") -> list[str]:
    """The accuracy of `method`, Dawid-Skene and majority vote against hidden truth (or gold), and how
    often MV and DS agree: what the manager page leads with (empty lines left out)."""
    from truthline.services import results

    summary = results.project_summary(engine, actor, project_id)
    lines = []
    accuracy = summary.get("accuracy") or {}
    if accuracy.get("against"):
        own = "" if method in ("mv", "ds") else (
            f"{escape(method)} {cell_text(results.method_accuracy(engine, actor, project_id, method))}, ")
        lines.append(f"Accuracy against {accuracy['against']} ({accuracy.get('items')} items): {own}"
                     f"Dawid-Skene {cell_text(accuracy.get('ds'))}, majority vote {cell_text(accuracy.get('mv'))}")
    agreement = (summary.get("agreement") or {}).get("mv_vs_ds")
    if agreement is not None:
        lines.append(f"Majority vote and Dawid-Skene agree on {agreement:.1%} of labeled items.")
    return lines


SORTS = {"labels": lambda w: -w["n_labels"], "accuracy": lambda w: _missing_last(w["accuracy"]),
         "spammer": lambda w: _missing_last(w["spammer_score"]), "name": lambda w: w["username"]}


def _missing_last(value: float | None) -> tuple[bool, float]:
    return value is None, value or 0.0


@handle_errors
def workers(
    project: ProjectArg,
    method: MethodOption = None,
    limit: LimitOption = 0,
    sort: Annotated[str | None, typer.Option(
        "--sort", help="labels (most first), accuracy or spammer (lowest first: the workers to look at), name.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Also write every worker's figures to this .csv or .jsonl.")] = None,
    db: DbOption = None,
) -> None:
    """Show each worker's label count, estimated accuracy with its credible interval, spammer score, gold
    record and active time, and the crowd's agreement."""
    from truthline.errors import Invalid
    from truthline.services import crowdfile, dashboard

    check_limit(limit)
    method = method_or_default(method)
    if sort is not None and sort not in SORTS:
        raise Invalid(f"--sort must be one of: {', '.join(SORTS)}; got {sort!r}", field="sort")
    if out is not None:
        crowdfile.output_format(out)  # a bad name fails before the work
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    report = dashboard.quality_report(engine, actor, proj.id, method)  # the manager page's figures
    if sort is not None:
        report["workers"].sort(key=SORTS[sort])
    if out is not None:  # header only while nobody has labelled: scripts get the same file shape
        crowdfile.write_rows(out, dashboard.WORKER_COLUMNS, dashboard.worker_file_rows(report["workers"]))
    if not report["workers"]:
        console.print(f"Project #{proj.id} has no labels yet.")
        return
    table = Table(title=f"Workers · project #{proj.id} · method {method}")
    table.add_column("worker")
    table.add_column("labels", justify="right")
    table.add_column(f"accuracy [{report['level']:.0%} interval]", no_wrap=True)
    for name in ("spammer score", "gold right", "ms / label"):
        table.add_column(name, justify="right")
    shown = report["workers"][: limit or None]
    for w in shown:
        interval = "" if w["lower"] is None else f" [{w['lower']:.3f}, {w['upper']:.3f}]"
        table.add_row(cell_text(w["username"]), cell_text(w["n_labels"]), cell_text(w["accuracy"]) + interval,
                      cell_text(w["spammer_score"]), f"{w['gold_correct']} / {w['gold_labels']}",
                      cell_text(w["mean_active_ms"], "mean_active_ms"))
    console.print(table)
    slips = [f"{cell_text(w['username'])}: {slip_text(s)}" for w in shown if (s := w["top_slip"])]
    if slips:  # under the table, which has no room for it in 80 columns
        console.print(f"Habitual slips: {'; '.join(slips)}", highlight=False, soft_wrap=True)
    agreement = report["agreement"]
    on_scale = "" if agreement.get("krippendorff_alpha_interval") is None else (  # rating
        f", interval alpha {cell_text(agreement['krippendorff_alpha_interval'])}, "
        f"ordinal alpha {cell_text(agreement['krippendorff_alpha_ordinal'])}")
    console.print(f"Agreement between workers: Krippendorff's alpha {cell_text(agreement['krippendorff_alpha'])}, "
                  f"Fleiss' kappa {cell_text(agreement['fleiss_kappa'])}{on_scale}.", highlight=False)
    if report["models"]:
        note = tempered(report["temperature"], report["temperature_gold_items"])
        console.print(f"auto blended: {models_text(report['models'])}{note}", highlight=False)
    print_per_label(report["per_label"])
    if report["confusion"] and report["confusion"]["top"]:
        top = "; ".join(f"{cell_text(c['answer'])} labelled {cell_text(c['given'])} {c['share']:.0%} ({c['labels']:,})"
                        for c in report["confusion"]["top"][:5])
        console.print(f"Most frequent confusions (by the {method} answers): {top}", highlight=False, soft_wrap=True)
    if report["label_misses"]:
        console.print(f"Labels workers miss or add most (by the {method} answers): {label_misses(report['label_misses'])}",
                      highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"wrote {len(report['workers'])} workers to {escape(str(out))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("aggregate")(aggregate)
    app.command("workers")(workers)
