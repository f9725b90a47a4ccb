"""Result commands: `aggregate` (inferred answers + summary), `workers` (estimated worker quality) and
`ranking` (a pairwise project's models or systems, ranked with score intervals, or head to head)."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .context import DbOption, console, handle_errors, method_or_default, state
from .data import ProjectArg, resolve_project

METHOD_HELP = ("Truth inference: auto, mv (majority vote), ds (Dawid-Skene), ...; numeric projects: auto or ds (each "
               "worker's bias and noise), mv (the plain mean) (default: settings.default_method).")
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
    numeric = proj.tolerance is not None
    # rating: its posterior mean over the scale (what to rank or average items by); numeric: the unrounded
    # estimate and its standard error
    extra = ["estimate", "stderr"] if numeric else ["estimate"] if proj.scale is not None else []
    shown = number_text if numeric else cell_text
    table = Table("external id", "answer", "confidence", *extra, title=f"Project #{proj.id} · method {method}")
    for r in rows[: limit or None]:
        table.add_row(escape(str(r.get("external_id"))), shown(r.get("answer")), cell_text(r.get("confidence")),
                      *(shown(r.get(key)) for key in extra))
    console.print(table)
    answered = [r for r in rows if r.get("answer") is not None]
    conf = [float(r["confidence"]) for r in answered if r.get("confidence") is not None]
    said = f"{len(rows)} items, {len(answered)} with an answer"
    if conf:
        said += f", mean confidence {sum(conf) / len(conf):.3f}"
    if answered:
        said += (f"; answers {spread_text([r['answer'] for r in answered])}" if numeric
                 else f"; answers: {distribution_text(answered)}")
    console.print(said, highlight=False)
    for line in summary_lines(engine, actor, proj.id, method):
        console.print(line, highlight=False)


def number_text(value: Any) -> str:
    """A numeric project's value in full (an answer of 0.0004 is not "0.000"), to 6 significant digits."""
    if value is None:
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.6g}"


def spread_text(answers: Sequence[float]) -> str:
    """Numeric answers as "from 0 to 26, median 10": counting each distinct value says little."""
    return (f"from {number_text(min(answers))} to {number_text(max(answers))}, "
            f"median {number_text(statistics.median(answers))}")


def distribution_text(answered: Sequence[Mapping[str, Any]]) -> str:
    """How many items got each answer, most frequent first."""
    dist = Counter(cell_text(r["answer"]) for r in answered)
    return ", ".join(f"{k} {v}" for k, v in dist.most_common())


def summary_lines(engine: Any, actor: Any, project_id: int, method: str = "auto") -> list[str]:
    """The accuracy of `method`, Dawid-Skene and majority vote against hidden truth (or gold), and how
    often MV and DS agree: what the manager page leads with (empty lines left out). Numeric projects say it
    in their own words (see numeric_summary_lines)."""
    from truthline.services import results

    summary = results.project_summary(engine, actor, project_id)
    tolerance = summary["project"].get("tolerance")
    if tolerance is not None:
        return numeric_summary_lines(summary, tolerance)
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


def numeric_summary_lines(summary: Mapping[str, Any], tolerance: float) -> list[str]:
    """summary_lines for a numeric project, where ds is the worker model (auto: each worker's bias and noise)
    and mv the plain mean, and an answer is right within the tolerance of the reference."""
    close = f"within ±{tolerance} of" if tolerance else "equal to"
    lines = []
    accuracy = summary.get("accuracy") or {}
    if accuracy.get("against"):
        lines.append(f"Answers {close} {accuracy['against']} ({accuracy.get('items')} items): worker model (auto, ds) "
                     f"{cell_text(accuracy.get('ds'))}, plain mean (mv) {cell_text(accuracy.get('mv'))}")
    agreement = (summary.get("agreement") or {}).get("mv_vs_ds")
    if agreement is not None:
        within = f" (within ±{tolerance})" if tolerance else ""
        lines.append(f"The plain mean and the worker model agree{within} on {agreement:.1%} of labeled items.")
    return lines


SORTS = {"labels": lambda w: -w["n_labels"], "accuracy": lambda w: _missing_last(w["accuracy"]),
         "spammer": lambda w: _missing_last(w["spammer_score"]), "name": lambda w: w["username"],
         "noise": lambda w: _largest_first(w.get("noise")), "bias": lambda w: _largest_first(w.get("bias"))}
NUMERIC_SORTS = ("noise", "bias")  # numeric projects' workers only; they have no spammer score
SORT_HELP = ("labels (most first), accuracy or spammer (lowest first: the workers to look at), name; numeric "
             "projects: noise or bias (largest first) instead of spammer.")


def _missing_last(value: float | None) -> tuple[bool, float]:
    return value is None, value or 0.0


def _largest_first(value: float | None) -> tuple[bool, float]:
    """A bias of -3 is as far off as one of +3."""
    return _missing_last(None if value is None else -abs(value))


def check_sort_fits(sort: str | None, numeric: bool) -> None:
    """Refuse a --sort the project's workers have no figure for (it would leave them in any order)."""
    from truthline.errors import Invalid

    if numeric and sort == "spammer":
        raise Invalid("numeric projects have no spammer score; sort by noise or bias instead", field="sort")
    if not numeric and sort in NUMERIC_SORTS:
        raise Invalid(f"--sort {sort} only applies to numeric projects (their workers' bias and noise)", field="sort")


@handle_errors
def workers(
    project: ProjectArg,
    method: MethodOption = None,
    limit: LimitOption = 0,
    sort: Annotated[str | None, typer.Option("--sort", help=SORT_HELP)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Also write every worker's figures to this .csv or .jsonl.")] = None,
    db: DbOption = None,
) -> None:
    """Show each worker's label count, estimated accuracy with its credible interval, spammer score (numeric
    projects: bias and noise), gold record and active time, and the crowd's agreement."""
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
    numeric = proj.tolerance is not None
    check_sort_fits(sort, numeric)
    report = dashboard.quality_report(engine, actor, proj.id, method)  # the manager page's figures
    if sort is not None:
        report["workers"].sort(key=SORTS[sort])
    if out is not None:  # header only while nobody has labelled: scripts get the same file shape
        crowdfile.write_rows(out, *dashboard.worker_file(report["workers"], proj.task_type))
    if not report["workers"]:
        console.print(f"Project #{proj.id} has no labels yet.")
        return
    shown = report["workers"][: limit or None]
    console.print(_workers_table(shown, report["level"], f"Workers · project #{proj.id} · method {method}", numeric))
    if numeric:
        _print_numeric_notes(report, method, proj.tolerance)
    else:
        _print_categorical_notes(report, shown, method)
    if out is not None:
        console.print(f"wrote {len(report['workers'])} workers to {escape(str(out))}", highlight=False)


def _workers_table(shown: Sequence[Mapping[str, Any]], level: float, title: str, numeric: bool) -> Table:
    """One row per worker; numeric projects show each worker's bias and noise where others show a spammer
    score."""
    table = Table(title=title)
    table.add_column("worker", no_wrap=True)  # names whole: the headers of the figures wrap instead
    table.add_column("labels", justify="right")
    table.add_column(f"accuracy [{level:.0%} interval]", no_wrap=True)
    for name in (("bias", "noise") if numeric else ("spammer score",)) + ("gold right", "ms / label"):
        table.add_column(name, justify="right")
    places = decimals_for([w[key] for w in shown for key in ("bias", "noise")]) if numeric else 0
    for w in shown:
        interval = "" if w["lower"] is None else f" [{w['lower']:.3f}, {w['upper']:.3f}]"
        figures = ([fixed_text(w["bias"], places, "+"), fixed_text(w["noise"], places)] if numeric
                   else [cell_text(w["spammer_score"])])
        table.add_row(cell_text(w["username"]), cell_text(w["n_labels"]), cell_text(w["accuracy"]) + interval,
                      *figures, f"{w['gold_correct']} / {w['gold_labels']}",
                      cell_text(w["mean_active_ms"], "mean_active_ms"))
    return table


def decimals_for(values: Sequence[float | None]) -> int:
    """Decimals giving the largest of `values` 3 significant digits (a count's bias 1.97, a price's 0.00420),
    shared by the column so its figures line up; the --out file has them in full."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    return 2 if largest == 0 else min(6, max(0, 2 - math.floor(math.log10(largest))))


def fixed_text(value: float | None, places: int, sign: str = "") -> str:
    """`value` to `places` decimals; sign "+" shows which way a bias goes."""
    return "–" if value is None else f"{value:{sign}.{places}f}"


def _print_categorical_notes(report: Mapping[str, Any], shown: Sequence[Mapping[str, Any]], method: str) -> None:
    """Under the workers table: slips, agreement, what auto blended, confusions and missed labels."""
    slips = [f"{cell_text(w['username'])}: {slip_text(s)}" for w in shown if (s := w["top_slip"])]
    if slips:  # under the table, which has no room for it in 80 columns
        console.print(f"Habitual slips: {'; '.join(slips)}", highlight=False, soft_wrap=True)
    leaning = [f"{cell_text(w['username'])} ({w['first_picks'] / w['ordered_answers']:.0%} of "
               f"{w['ordered_answers']})" for w in shown if w.get("leans_first")]  # pairwise, random order
    if leaning:
        console.print(f"Lean toward the candidate shown first: {'; '.join(leaning)}", highlight=False,
                      soft_wrap=True)
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


def _print_numeric_notes(report: Mapping[str, Any], method: str, tolerance: float) -> None:
    """Under a numeric project's workers table: what its columns mean, agreement on the values (Fleiss'
    kappa needs categories), and how far the answers are from hidden truth."""
    close = f"within ±{tolerance} of" if tolerance else "equal to"
    console.print(f"accuracy: share of a worker's labels {close} the {method} answers (where another label or gold "
                  "can contradict them); bias: how far above the truth they answer on average (negative: below); "
                  "noise: the spread of their other errors.", highlight=False)
    agreement = report["agreement"]
    console.print(f"Agreement between workers on the values: Krippendorff's alpha interval "
                  f"{cell_text(agreement['krippendorff_alpha_interval'])}, ordinal "
                  f"{cell_text(agreement['krippendorff_alpha_ordinal'])}, nominal (exact values) "
                  f"{cell_text(agreement['krippendorff_alpha'])}.", highlight=False)
    if report.get("error_vs_truth") is not None:
        right = report["accuracy_vs_truth"]
        share = "–" if right is None else f"{right:.1%}"
        console.print(f"Against hidden truth: {share} of the {method} answers are {close} it; the estimates are off "
                      f"by {number_text(report['error_vs_truth'])} on average.", highlight=False)


VERSUS_HELP = ("Instead of the ranking, the best sides head to head: each cell P(row beats column), ▲/▼ where the "
               "row side is significantly better/worse.")
TOP_HELP = "With --versus: how many of the best sides to compare (1 to 50; default 10)."


@handle_errors
def ranking(project: ProjectArg, method: MethodOption = None,
            versus: Annotated[bool, typer.Option("--versus", help=VERSUS_HELP)] = False,
            top: Annotated[int | None, typer.Option("--top", min=1, max=50, help=TOP_HELP)] = None,
            db: DbOption = None) -> None:
    """A pairwise project's models or systems (the items' a_id and b_id), best first: Bradley-Terry score with
    its 95% interval, comparisons and wins/losses/ties by the items' inferred answers, and each interval drawn;
    with --versus, the best sides' predicted win probabilities against each other."""
    from truthline.errors import Invalid
    from truthline.services import ranking as service

    if top is not None and not versus:
        raise Invalid("only with --versus (how many sides the head-to-head table compares)", field="--top")
    method = method_or_default(method)
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    if proj.task_type != "pairwise":
        raise Invalid(f"only pairwise projects have a ranking; #{proj.id} {proj.name!r} is {proj.task_type}",
                      field="PROJECT")
    if versus:
        print_head_to_head(service.head_to_head(engine, actor, proj.id, method, top or service.DEFAULT_TOP), proj.id)
        return
    report = service.project_ranking(engine, actor, proj.id, method)
    rows = report["ranking"]
    unranked = report["unranked_items"]
    lacking = ("1 answered item names no a_id/b_id and is not ranked." if unranked == 1 else
               f"{unranked:,} answered items name no a_id/b_id and are not ranked.")
    if not rows or not report["items"]:
        console.print(f"Project #{proj.id}: nothing to rank yet: no answered item names what produced its "
                      "candidates (a_id and b_id).", highlight=False)
        console.print(lacking, highlight=False)
        return
    level = f"{report['level']:.0%}"
    table = Table(title=f"Ranking · project #{proj.id} · method {escape(method)}")
    table.add_column("rank", justify="right")
    table.add_column("id")
    table.add_column("score", justify="right")
    table.add_column(f"{level} interval", justify="right", no_wrap=True)
    table.add_column("comparisons", justify="right")
    table.add_column("W/L/T", justify="right", no_wrap=True)
    for k, r in enumerate(rows, start=1):
        table.add_row(str(k), cell_text(r["id"]), signed_text(r["score"]), interval_text(r["lower"], r["upper"]),
                      f"{r['comparisons']:,}", f"{r['wins']}/{r['losses']}/{r['ties']}")
    console.print(table)
    for line in interval_bars(rows):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"Scores are Bradley-Terry log-strengths (0: average; +0.69: twice the odds of winning) over "
                  f"{report['items']:,} items; {lacking}", highlight=False, soft_wrap=True)
    if not report["converged"]:
        console.print("note: the fit did not fully converge; treat the scores as approximate", highlight=False)


HEAD_WIDTH = 12  # characters of an id as a column head (its row head has it whole, up to NAME_WIDTH)


def print_head_to_head(report: Mapping[str, Any], project_id: int) -> None:
    """The head-to-head table: rows and columns the best sides, each cell P(row beats column) with ▲ (and bold)
    where the row side is significantly better, ▼ where significantly worse: the marks read without colour."""
    sides = report["sides"]
    if len(sides) < 2 or not report["items"]:
        console.print(f"Project #{project_id}: nothing to compare head to head yet: it takes two sides (a_id and "
                      "b_id) and answered items comparing them.", highlight=False)
        return
    table = Table(title=f"Head to head · project #{project_id} · method {escape(report['method'])}")
    table.add_column("P(row wins)", no_wrap=True)  # ids whole; the number columns wrap their heads
    for side in sides:
        table.add_column(escape(_clipped(str(side["id"]), HEAD_WIDTH)), justify="right", no_wrap=True)
    for side in sides:
        cells = {cell["id"]: _versus_cell(cell) for cell in side["versus"]}
        table.add_row(escape(_clipped(str(side["id"]))), *(cells.get(other["id"], "·") for other in sides))
    console.print(table)
    level = f"{report['level']:.0%}"
    console.print(f"Predicted from the Bradley-Terry scores (ties aside), best first; ▲ the row side is "
                  f"significantly better (the {level} interval of the score difference lies above 0), ▼ worse. "
                  f"{report['ranked']:,} sides ranked, the best {len(sides)} shown; intervals and each pair's own "
                  f"record: GET /api/v1/projects/{project_id}/ranking/head-to-head.", highlight=False, soft_wrap=True)
    if not report["exact_covariance"]:
        console.print("note: over 2000 sides, the intervals use each score's variance alone (not how the scores "
                      "move together)", highlight=False)


def _versus_cell(cell: Mapping[str, Any]) -> str:
    from truthline.services.ranking import win_percent

    text = win_percent(cell["win_probability"])
    if cell["better"] is True:
        return f"[bold]{text} ▲[/bold]"
    return f"{text} ▼" if cell["better"] is False else f"{text}  "


def signed_text(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def interval_text(lower: float | None, upper: float | None) -> str:
    return "–" if lower is None or upper is None else f"[{lower:+.2f}, {upper:+.2f}]"


BAR_WIDTH = 40
NAME_WIDTH = 24


def interval_bars(rows: Sequence[Mapping[str, Any]], width: int = BAR_WIDTH) -> list[str]:
    """One text line per id on a shared axis, its interval ├──●──┤ (● the score), then the axis' ends: which
    intervals overlap (the ids the data cannot tell apart) shows at a glance. Plain text: ids are not markup."""
    def drawn(r: Mapping[str, Any]) -> bool:
        return r["lower"] is not None and r["upper"] is not None and r["score"] is not None

    known = [r for r in rows if drawn(r)]
    if not known:
        return []
    lo, hi = min(r["lower"] for r in known), max(r["upper"] for r in known)
    names = [_clipped(str(r["id"])) for r in rows]
    pad = max(len(n) for n in names)

    def column(x: float) -> int:
        return width // 2 if hi <= lo else min(width - 1, max(0, round((x - lo) / (hi - lo) * (width - 1))))

    lines = []
    for name, r in zip(names, rows, strict=True):
        cells = [" "] * width
        if drawn(r):
            a, m, b = column(r["lower"]), column(r["score"]), column(r["upper"])
            for i in range(a, b + 1):
                cells[i] = "─"
            cells[a], cells[b] = "├", "┤"
            cells[m] = "●"
        lines.append(f"  {name.ljust(pad)} │{''.join(cells)}│")
    left, right = f"{lo:+.2f}", f"{hi:+.2f}"
    lines.append(f"  {' ' * pad}  {left}{right.rjust(width - len(left))}")
    return lines


def _clipped(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    app.command("aggregate")(aggregate)
    app.command("workers")(workers)
    app.command("ranking")(ranking)
