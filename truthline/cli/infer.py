"""`truthline infer FILE`: truth inference on a crowd label file, no database: categorical labels (the default),
numeric values or pairwise preferences (`--kind`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.bar import Bar
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .context import console, handle_errors, method_or_default
from .results import LimitOption, MethodOption, cell_text, check_limit, models_text, print_per_label, tempered

if TYPE_CHECKING:
    from truthline.services.crowdfile import Inferred

FileArg = Annotated[Path, typer.Argument(help="Labels: .csv (header item,worker,label), .jsonl or .parquet.",
                                         exists=True, dir_okay=False, readable=True)]
KIND_HELP = ("categorical (item,worker,label), numeric (item,worker,value: robust mean with worker noise and bias), "
             "pairwise (item_a,item_b,winner,worker: Bradley-Terry scores with intervals) or multilabel "
             "(item,worker,labels: a JSON list or a|b; --method per label).")


@handle_errors
def infer(
    labels_file: FileArg,
    kind: Annotated[str, typer.Option("--kind", help=KIND_HELP)] = "categorical",
    method: MethodOption = None,
    gold: Annotated[Path | None, typer.Option(
        "--gold", exists=True, dir_okay=False, help="item,label file of known answers: clamped, they also calibrate "
        "the workers.")] = None,
    truth: Annotated[Path | None, typer.Option(
        "--truth", exists=True, dir_okay=False, help="item,truth file to score the answers against (never shown "
        "to the method).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Write item,answer,confidence,n_labels to this .csv or .jsonl.")] = None,
    probabilities: Annotated[bool, typer.Option(
        "--probabilities", help="categorical only: add each class's probability per item to --out (soft "
        "labels).")] = False,
    workers_out: Annotated[Path | None, typer.Option(
        "--workers-out", dir_okay=False, help="Write each worker's accuracy, credible interval and spammer score "
        "to this .csv or .jsonl.")] = None,
    bias_prior: Annotated[float | None, typer.Option(
        "--bias-prior", help="numeric only: pseudo-labels pulling each worker's bias toward 0 (default 1; more when "
        "workers share few items, 0 to trust the fitted biases fully).")] = None,
    limit: LimitOption = 20,
) -> None:
    """Infer each item's answer from a crowd label file (no database, no server)."""
    from truthline.errors import Invalid, shown
    from truthline.quality import METHODS
    from truthline.services import crowdfile

    given_method, method = method, method_or_default(method)
    if kind not in crowdfile.KINDS:
        raise Invalid(f"--kind must be one of: {', '.join(crowdfile.KINDS)}; got {shown(kind)}", field="kind")
    if kind in ("categorical", "multilabel") and method not in METHODS:  # now, not after reading the file
        raise Invalid(f"unknown --method {shown(method)}; valid names: {', '.join(sorted(METHODS))}",
                      field="method")
    check_limit(limit)
    for path, field in ((out, "out"), (workers_out, "workers_out")):
        if path is not None:
            crowdfile.output_format(path, field)  # a bad name fails now, not after the inference
    _check_outputs({"the labels file": labels_file, "--gold": gold, "--truth": truth},
                   {"--out": out, "--workers-out": workers_out})
    if bias_prior is not None and kind != "numeric":
        raise Invalid("--bias-prior only applies to numeric labels (--kind numeric)", field="bias_prior")
    if kind != "categorical":
        named = given_method not in (None, "auto")  # the settings' default is no request for one
        if kind == "numeric":  # auto/ds (the worker model) or mv (the plain mean), as numeric projects take;
            from truthline.tasktypes.numeric import model_for  # a categorical default setting means auto

            method = method if named else "auto"
            model_for(method)
        options = {"--method": named and kind == "pairwise", "--gold": gold and kind != "numeric",
                   "--workers-out": workers_out, "--probabilities": probabilities}
        given = [name for name, value in options.items() if value]
        if given:
            raise Invalid(f"{', '.join(given)}: only for categorical labels", field=given[0].lstrip("-"))
        _scored(kind, labels_file, truth, out, limit, method, 1.0 if bias_prior is None else bias_prior, gold)
        return
    if probabilities and out is None:
        raise Invalid("--probabilities needs --out (the file the probabilities go to)", field="probabilities")
    _categorical(labels_file, method, gold, truth, out, workers_out, limit, probabilities)


def _check_outputs(inputs: dict[str, Path | None], outputs: dict[str, Path | None]) -> None:
    """Refuse an output that is an input (writing it would destroy what it was read from) or the other
    output (one would overwrite the other)."""
    from truthline.errors import Invalid

    written: dict[str, Path] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        for other, given in {**inputs, **written}.items():
            if given is not None and _same_file(path, given):
                raise Invalid(f"{option} {path.name} is also {other}; write to another file",
                              field=option.lstrip("-").replace("-", "_"))
        written[option] = path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)  # also through links and other spellings of the path
    except OSError:  # one does not exist (yet): only the same path is the same file
        return a.resolve() == b.resolve()


def _categorical(labels_file: Path, method: str, gold: Path | None, truth: Path | None, out: Path | None,
                 workers_out: Path | None, limit: int, probabilities: bool) -> None:
    """Categorical labels: infer, report, show or write the answers (and the workers)."""
    from truthline.services import crowdfile

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        step = progress.add_task(f"Reading {labels_file.name}", total=None)
        problem = crowdfile.load(labels_file, gold, truth)
        progress.update(step, description=f"Inferring answers ({method})")
        result = crowdfile.infer(problem, method)
        progress.update(step, description="Writing")
        if out is not None:
            crowdfile.write_answers(out, problem, result, probabilities)
        if workers_out is not None:
            crowdfile.write_workers(workers_out, problem, result)
    data = problem.labels
    console.print(f"{data.n_items:,} items, {data.n_workers:,} workers, {data.n_labels:,} labels, "
                  f"{len(problem.classes)} classes; {len(problem.gold):,} gold; method {escape(method)} in "
                  f"{result.seconds:.2f} s.", highlight=False, soft_wrap=True)  # one line, even when piped
    for name, count in problem.unmatched.items():
        _unmatched_note(name, count)
    if result.model_weights:
        kept = sum(w > 0 for w in result.model_weights.values())
        note = tempered(result.temperature, result.temperature_gold_items)
        console.print(f"auto {'blended' if kept > 1 else 'chose'}: {models_text(result.model_weights)}{note}",
                      highlight=False)
    console.print(_distribution(problem.classes, result.answers))
    if result.confusions:
        said = "; ".join(f"{cell_text(a)} labelled {cell_text(g)} {share:.0%} ({n:,})" for a, g, n, share in result.confusions)
        console.print(f"Most frequent confusions (by these answers): {said}", highlight=False, soft_wrap=True)
    if result.accuracy is not None:  # gold items are clamped to their truth, so right: they would only flatter
        left_out = f" ({result.truth_gold:,} gold left out)" if result.truth_gold else ""
        console.print(f"accuracy against --truth: [bold]{result.accuracy:.4f}[/] over {result.n_scored:,} "
                      f"items{left_out}", highlight=False)
    elif result.truth_gold:
        console.print(f"accuracy against --truth: – (all {result.truth_gold:,} items with truth are gold, "
                      "clamped to their answer: nothing to score)", highlight=False, soft_wrap=True)
    _calibration(result)
    if out is None:
        table = Table("item", "answer", "confidence", "labels")
        for i in range(min(limit or data.n_items, data.n_items)):
            confidence = cell_text(float(result.confidence[i]))
            table.add_row(escape(problem.items[i]), cell_text(result.answers[i]), confidence,
                          str(int(result.n_labels[i])))
        console.print(table)
    else:
        console.print(f"wrote {data.n_items:,} answers to {escape(str(out))}", highlight=False)
    if workers_out is not None:
        console.print(f"wrote {data.n_workers:,} workers to {escape(str(workers_out))}", highlight=False)


def _distribution(classes: list[str], answers: list[str]) -> Table:
    """Answers per class as bars: a skewed or collapsed result shows at a glance."""
    counts = Counter(answers)
    total = max(len(answers), 1)
    table = Table("answer", "", "items", title="Inferred answers", title_justify="left", box=None)
    for name in classes:
        n = counts.get(name, 0)
        table.add_row(escape(name) or "(other)", Bar(total, 0, n, width=30, color="cyan"), f"{n:,} ({n / total:.1%})")
    return table


def _calibration(result: Inferred) -> None:
    """How far the confidences can be trusted, against --truth on the items that are not gold: the
    calibration error and, per band of confidence, the share answered right (bars)."""
    from truthline.services.dashboard import MIN_CALIBRATION_ITEMS

    n = sum(b.items for b in result.reliability)
    if result.calibration_error is None or n < MIN_CALIBRATION_ITEMS:
        return
    console.print(f"calibration error against --truth: [bold]{result.calibration_error:.3f}[/] over {n:,} items "
                  "(0 = right exactly as often as the confidence says)", highlight=False, soft_wrap=True)
    table = Table("confidence", "items", "mean confidence", "", "right", title="Confidence against --truth",
                  title_justify="left", box=None)
    for b in result.reliability:
        table.add_row(f"{b.lower:.1f}-{b.upper:.1f}", f"{b.items:,}", f"{b.confidence:.3f}",
                      Bar(1.0, 0, b.accuracy, width=20, color="cyan"), f"{b.accuracy:.3f}")
    console.print(table)


def _scored(kind: str, labels_file: Path, truth: Path | None, out: Path | None, limit: int, method: str,
            bias_prior: float, gold: Path | None = None) -> None:
    """Numeric, pairwise or multilabel: fit, report the truth comparison, show or write one row per item."""
    from truthline.services import crowdfile

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        progress.add_task(f"Reading {labels_file.name} and fitting ({kind})", total=None)
        if kind == "multilabel":
            result = crowdfile.infer_multilabel(labels_file, truth, method)
        elif kind == "numeric":
            result = crowdfile.infer_numeric(labels_file, truth, bias_prior=bias_prior, gold_path=gold, method=method)
        else:
            result = crowdfile.infer_pairwise(labels_file, truth)
        if out is not None:
            crowdfile.write_rows(out, result.columns, result.rows)
    console.print(f"{len(result.rows):,} items, {result.n_workers:,} workers, {result.n_labels:,} "
                  f"{'comparisons' if kind == 'pairwise' else 'answers'}.", highlight=False)
    print_per_label(result.per_label)
    _unmatched_note("gold", result.gold_unmatched)
    _unmatched_note("truth", result.truth_unmatched)
    if result.metric is not None:
        value = "–" if result.value is None else f"{result.value:.4f}"
        why = f" ({escape(result.note)})" if result.note else ""
        console.print(f"{result.metric} against --truth: [bold]{value}[/] over {result.n_scored:,} items{why}",
                      highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"wrote {len(result.rows):,} rows to {escape(str(out))}", highlight=False)
        return
    table = Table(*result.columns)
    for row in result.rows[: limit or None]:
        table.add_row(*(cell_text(value) for value in row))
    console.print(table)


def _unmatched_note(option: str, count: int) -> None:
    if count:
        console.print(f"note: {count:,} --{option} rows name items the labels file does not have (ignored)",
                      highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("infer")(infer)
