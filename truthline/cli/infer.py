"""`truthline infer FILE`: truth inference on a crowd label file (item, worker, label), no database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .context import console, handle_errors
from .results import LimitOption, MethodOption, _fmt

FileArg = Annotated[Path, typer.Argument(help="Labels: .csv (header item,worker,label), .jsonl or .parquet.",
                                         exists=True, dir_okay=False, readable=True)]


@handle_errors
def infer(
    labels_file: FileArg,
    method: MethodOption = "auto",
    gold: Annotated[Path | None, typer.Option(
        "--gold", exists=True, dir_okay=False, help="item,label file of known answers: clamped, they also calibrate "
        "the workers.")] = None,
    truth: Annotated[Path | None, typer.Option(
        "--truth", exists=True, dir_okay=False, help="item,truth file to score the answers against (never shown "
        "to the method).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Write item,answer,confidence,n_labels to this .csv or .jsonl.")] = None,
    workers_out: Annotated[Path | None, typer.Option(
        "--workers-out", dir_okay=False, help="Write each worker's accuracy, credible interval and spammer score "
        "to this .csv or .jsonl.")] = None,
    limit: LimitOption = 20,
) -> None:
    """Infer each item's answer from a crowd label file (no database, no server)."""
    from truthline.services import crowdfile

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        step = progress.add_task(f"Reading {labels_file.name}", total=None)
        problem = crowdfile.load(labels_file, gold, truth)
        progress.update(step, description=f"Inferring answers ({method})")
        result = crowdfile.infer(problem, method)
        progress.update(step, description="Writing")
        if out is not None:
            crowdfile.write_answers(out, problem, result)
        if workers_out is not None:
            crowdfile.write_workers(workers_out, problem, result)
    data = problem.labels
    console.print(f"{data.n_items:,} items, {data.n_workers:,} workers, {data.n_labels:,} labels, "
                  f"{len(problem.classes)} classes; {len(problem.gold):,} gold; method {escape(method)} in "
                  f"{result.seconds:.2f} s.", highlight=False)
    if result.model_weights:
        used = ", ".join(f"{name} {w:.2f}" for name, w in result.model_weights.items() if w > 0)
        console.print(f"auto blended: {used}", highlight=False)
    if result.accuracy is not None:
        console.print(f"accuracy against --truth: [bold]{result.accuracy:.4f}[/] over {result.n_scored:,} items",
                      highlight=False)
    if out is None:
        table = Table("item", "answer", "confidence", "labels")
        for i in range(min(limit or data.n_items, data.n_items)):
            table.add_row(escape(problem.items[i]), _fmt(result.answers[i]), _fmt(float(result.confidence[i])),
                          str(int(result.n_labels[i])))
        console.print(table)
    else:
        console.print(f"wrote {data.n_items:,} answers to {escape(str(out))}", highlight=False)
    if workers_out is not None:
        console.print(f"wrote {data.n_workers:,} workers to {escape(str(workers_out))}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("infer")(infer)
