"""`truthline simulate`: a simulated crowd labeling a project through a running server's HTTP API."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from truthline.errors import Invalid, NotFound, shown

from .context import DbOption, console, handle_errors, state
from .data import ProjectArg, resolve_project


def load_truth(path: Path, labels: list[str]) -> dict[str, int]:
    """external_id -> class index from a .jsonl ({"external_id", "truth"}) or .csv (external_id,truth) file."""
    index = {label: i for i, label in enumerate(labels)}
    out: dict[str, int] = {}
    is_csv = path.suffix.lower() == ".csv"
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows: Any = csv.DictReader(fh) if is_csv else fh
            for line, row in enumerate(rows, start=2 if is_csv else 1):
                if not is_csv:
                    if not row.strip():
                        continue
                    try:
                        row = json.loads(row)
                    except (ValueError, RecursionError) as exc:
                        raise Invalid(f"not valid JSON: {exc}", field="--truth", line=line) from None
                if not isinstance(row, dict):
                    raise Invalid('must be an object like {"external_id": ..., "truth": ...}', field="--truth", line=line)
                if row.get("external_id") in (None, ""):
                    raise Invalid("external_id is required", field="external_id", line=line)
                label = str(row.get("truth", ""))
                if label not in index:
                    raise Invalid(f"truth {label!r} is not one of the project's labels", field="truth", line=line)
                out[str(row["external_id"])] = index[label]
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path}: not UTF-8 text ({exc})", field="--truth") from None
    except csv.Error as exc:
        raise Invalid(f"{path}: cannot be read as CSV ({exc})", field="--truth") from None
    return out


def check_url(url: str) -> None:
    """--url must be an http(s) address with a host; `notaurl` used to be retried for seconds and then blamed
    on the server."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Invalid(f"{shown(url)} is not a URL ({exc}); {URL_EXAMPLE}", field="--url") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Invalid(f"{shown(url)} is not an http:// or https:// address with a host; {URL_EXAMPLE}", field="--url")


def check_reachable(url: str, attempts: int = 3, backoff: float = 0.2) -> None:
    """One request to the server (any HTTP answer will do), retried briefly for a server still starting;
    an httpx.TransportError after that is reported as "cannot reach the server" (exit 1)."""
    for attempt in range(attempts):
        try:
            httpx.get(url, timeout=5.0)
            return
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            time.sleep(backoff * 2**attempt)


URL_EXAMPLE = "give the base URL of a running `truthline serve`, such as http://127.0.0.1:8000"
Opt = typer.Option
URL_HELP = "Base URL of a running `truthline serve`."
PACE_HELP = "Sleep active time x PACE per answer (1 = human speed)."
TRUTH_HELP = "external_id,truth (.csv or .jsonl): each item's true label; else a stable random one."


@handle_errors
def simulate(
    project: ProjectArg,
    workers: Annotated[int, Opt("--workers", min=1, help="Number of simulated workers.")] = 10,
    url: Annotated[str, Opt("--url", help=URL_HELP)] = "http://127.0.0.1:8000",
    spammers: Annotated[float, Opt("--spammers", min=0.0, max=1.0, help="Fraction of spammers.")] = 0.15,
    max_labels: Annotated[int | None, Opt("--max-labels", min=1, help="Stop after this many submits.")] = None,
    max_seconds: Annotated[float | None, Opt("--max-seconds", help="Stop after this long.")] = None,
    pace: Annotated[float, Opt("--pace", min=0.0, help=PACE_HELP)] = 0.0,
    truth: Annotated[Path | None, Opt("--truth", help=TRUTH_HELP)] = None,
    seed: Annotated[int, Opt("--seed", help="Same seed, same crowd and answers.")] = 0,
    db: DbOption = None,
) -> None:
    """Simulated crowd (own confusion matrices, speeds, some spammers) labels PROJECT over the HTTP API."""
    from truthline.services import projects, users
    from truthline.sim import make_crowd, run_crowd

    check_url(url)
    if max_seconds is not None and not max_seconds > 0:  # 0 would mean "no limit" to run_crowd
        raise Invalid(f"--max-seconds must be more than 0; got {max_seconds:g}", field="--max-seconds")
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    labels = [str(x) for x in proj.labels]
    if proj.task_type not in ("classification", "rating"):  # one label per answer (rating: a scale value)
        raise Invalid(f"simulate supports classification and rating projects; #{proj.id} is {proj.task_type}",
                      field="PROJECT")
    truth_map = load_truth(truth, labels) if truth else None
    check_reachable(url)  # before the worker accounts are created: a failed run leaves none behind
    crowd = make_crowd(workers, len(labels), seed=seed, spammer_fraction=spammers, prefix=f"sim{proj.id}")
    tokens: dict[str, str] = {}
    for w in crowd:  # simulated accounts are token-only: no password anyone could log in with
        try:
            user = users.get_user_by_name(engine, actor, w.name)
        except NotFound:
            user = users.create_user(engine, actor, w.name, None)
        projects.add_member(engine, actor, proj.id, w.name, "annotator")  # an upsert
        tokens[w.name] = users.create_token(engine, user, name="simulate")

    def truth_of(task: dict) -> int | None:
        return truth_map.get(str(task["item"]["external_id"])) if truth_map else None

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
            bar = progress.add_task(f"{workers} simulated workers labeling", total=max_labels)
            report = run_crowd(
                url, proj.id, tokens, crowd, labels, truth_of=truth_of, max_submits=max_labels,
                max_seconds=max_seconds, time_scale=pace, seed=seed, on_submit=lambda: progress.advance(bar),
            )
    finally:  # the tokens were only for this run
        for token in tokens.values():
            users.revoke_token(engine, token)
    table = Table("worker", "kind", "true accuracy", "labels")
    for w in crowd:
        table.add_row(w.name, w.kind, f"{w.accuracy:.2f}", str(report.per_worker.get(w.name, 0)))
    console.print(table)
    rate = report.submitted / report.elapsed if report.elapsed else 0.0
    lat = report.submit_latencies
    p50, p99 = (1000 * float(np.percentile(lat, q)) if lat else 0.0 for q in (50, 99))
    console.print(
        f"{report.submitted} labels in {report.elapsed:.1f}s ({rate:.0f}/s); submit p50 {p50:.1f} ms,"
        f" p99 {p99:.1f} ms; {report.errors} errors.",
        highlight=False,
    )
    if report.unreachable is not None:  # after retries: exit 1 naming the server
        raise report.unreachable
    if report.first_error:
        console.print(f"first error: {report.first_error}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
