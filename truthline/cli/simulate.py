"""`truthline simulate`: a simulated crowd labeling a project through a running server's HTTP API."""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
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
    for line, external_id, value in truth_rows(path):
        label = str(value if value is not None else "")
        if label not in index:
            raise Invalid(f"truth {label!r} is not one of the project's labels", field="truth", line=line)
        out[external_id] = index[label]
    return out


def load_numbers(path: Path, task_type: Any, config: Any) -> dict[str, float]:
    """external_id -> true value from a --truth file of a numeric project (numbers within its range)."""
    out: dict[str, float] = {}
    for line, external_id, value in truth_rows(path):
        try:
            out[external_id] = float(task_type.validate_answer(value, config, field="truth"))
        except Invalid as exc:
            raise Invalid(exc.message, field="truth", line=line) from None
    return out


def truth_rows(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line, external_id, truth) of a .jsonl ({"external_id", "truth"}) or .csv (external_id,truth) file."""
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
                yield line, str(row["external_id"]), row.get("truth")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path}: not UTF-8 text ({exc})", field="--truth") from None
    except csv.Error as exc:
        raise Invalid(f"{path}: cannot be read as CSV ({exc})", field="--truth") from None


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
TRUTH_HELP = ("external_id,truth (.csv or .jsonl): each item's true label (numeric: value); else a stable random "
              "one (numeric: the item's stored truth first).")
SPAMMERS_HELP = "Fraction of spammers (numeric projects: of wild workers, now and then far off)."
SIMULATED = ("classification", "rating", "numeric", "pairwise")  # one answer per item: a label, a value, a side
DRAW_WIDTH = 100.0  # how wide the values drawn for items without truth are, when nothing else says


@handle_errors
def simulate(
    project: ProjectArg,
    workers: Annotated[int, Opt("--workers", min=1, help="Number of simulated workers.")] = 10,
    url: Annotated[str, Opt("--url", help=URL_HELP)] = "http://127.0.0.1:8000",
    spammers: Annotated[float, Opt("--spammers", min=0.0, max=1.0, help=SPAMMERS_HELP)] = 0.15,
    max_labels: Annotated[int | None, Opt("--max-labels", min=1, help="Stop after this many submits.")] = None,
    max_seconds: Annotated[float | None, Opt("--max-seconds", help="Stop after this long.")] = None,
    pace: Annotated[float, Opt("--pace", min=0.0, help=PACE_HELP)] = 0.0,
    truth: Annotated[Path | None, Opt("--truth", help=TRUTH_HELP)] = None,
    seed: Annotated[int, Opt("--seed", help="Same seed, same crowd and answers.")] = 0,
    db: DbOption = None,
) -> None:
    """Simulated crowd (own confusion matrices, speeds, some spammers; numeric projects: own bias and noise,
    some wild; pairwise projects: some with a lean toward the candidate shown first) labels PROJECT over the HTTP API."""
    from truthline.services import projects, users
    from truthline.sim import run_crowd

    check_url(url)
    if max_seconds is not None and not max_seconds > 0:  # 0 would mean "no limit" to run_crowd
        raise Invalid(f"--max-seconds must be more than 0; got {max_seconds:g}", field="--max-seconds")
    engine = state.engine(db)
    actor = state.actor(engine)
    proj = resolve_project(engine, actor, project)
    if proj.task_type not in SIMULATED:
        raise Invalid(f"simulate supports classification, rating, numeric and pairwise projects; "
                      f"#{proj.id} is {proj.task_type}", field="PROJECT")
    labels = [str(x) for x in proj.labels]  # numeric: none, the answers are numbers
    if proj.task_type == "numeric":
        crowd, truth_of = numeric_crowd(engine, actor, proj, truth, workers, spammers, seed)
    elif proj.task_type == "pairwise":
        crowd, truth_of = pair_crowd(engine, actor, proj, labels, truth, workers, spammers, seed)
    else:
        crowd, truth_of = label_crowd(proj, labels, truth, workers, spammers, seed)
    check_reachable(url)  # before the worker accounts are created: a failed run leaves none behind
    tokens: dict[str, str] = {}
    for w in crowd:  # simulated accounts are token-only: no password anyone could log in with
        try:
            user = users.get_user_by_name(engine, actor, w.name)
        except NotFound:
            user = users.create_user(engine, actor, w.name, None)
        projects.add_member(engine, actor, proj.id, w.name, "annotator")  # an upsert
        tokens[w.name] = users.create_token(engine, user, name="simulate")

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
    console.print(crowd_table(crowd, report.per_worker))
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


TruthOf = Callable[[dict], Any]


def label_crowd(proj: Any, labels: list[str], truth: Path | None, n_workers: int, spammers: float,
                seed: int) -> tuple[list[Any], TruthOf]:
    """Workers with confusion matrices over the labels, and each item's true class: from --truth, else
    (None) a stable random one."""
    from truthline.sim import make_crowd

    truth_map = load_truth(truth, labels) if truth else {}
    crowd = make_crowd(n_workers, len(labels), seed=seed, spammer_fraction=spammers, prefix=f"sim{proj.id}")
    return crowd, lambda task: truth_map.get(str(task["item"]["external_id"]))


def pair_crowd(engine: Any, actor: Any, proj: Any, labels: list[str], truth: Path | None, n_workers: int,
               spammers: float, seed: int) -> tuple[list[Any], TruthOf]:
    """label_crowd for a pairwise project: about a third of the honest workers lean toward the candidate shown
    first, and an item without --truth has a better side ("a" or "b", stable per item; a tie only where --truth
    says so). Truth is in the item's own terms; a task that shows B first (random order) turns it round."""
    from truthline.services.ranking import first_candidates
    from truthline.sim import lean_first, pseudo_truth

    crowd, given = label_crowd(proj, labels, truth, n_workers, spammers, seed)
    firsts = first_candidates(engine, actor, proj.id)

    def truth_of(task: dict) -> int:
        external_id, shown = str(task["item"]["external_id"]), task["item"]["data"]
        known = given(task)
        true = pseudo_truth(external_id, 2) if known is None else known
        if true < 2 and (shown.get("a"), shown.get("a_image_url")) != firsts.get(external_id):
            return 1 - true  # the better candidate is the one shown second
        return true

    return lean_first(crowd, seed=seed), truth_of


def numeric_crowd(engine: Any, actor: Any, proj: Any, truth: Path | None, n_workers: int, wild: float,
                  seed: int) -> tuple[list[Any], TruthOf]:
    """Workers answering truth + bias + noise, and each item's true value: from --truth, else the item's
    stored truth (or gold), else a stable draw within the span of the known values (or the project's
    range). The stored truth is used here, unlike for labels: a number drawn blind would ignore the units
    the project counts in, and the known values also set the crowd's scale and how many decimals it writes."""
    from truthline.services import results
    from truthline.sim import make_numeric_crowd, pseudo_value, written
    from truthline.tasktypes import get_task_type
    from truthline.tasktypes.numeric import is_number

    data = results.load_for(engine, actor, proj.id)
    stored = {**data.gold, **data.truth}  # a gold value is the true one too, where no truth says otherwise
    known = {data.external_ids[i]: float(v) for i, v in stored.items() if is_number(v)}
    if truth is not None:
        known.update(load_numbers(truth, get_task_type("numeric"), proj.config))
    bounds = proj.range or {}
    low, high = draw_span(bounds, list(known.values()))
    decimals = written_decimals([*known.values(), *(b for b in bounds.values() if b is not None)])
    if not known:  # only the range to go by: a 0 to 1 range is not answered in whole numbers
        decimals = min(6, max(decimals, 1 - math.floor(math.log10(high - low))))
    crowd = make_numeric_crowd(n_workers, scale=(high - low) / 4, decimals=decimals, low=bounds.get("min"),
                               high=bounds.get("max"), seed=seed, wild_fraction=wild, prefix=f"sim{proj.id}")

    def truth_of(task: dict) -> float:
        external_id = str(task["item"]["external_id"])
        if external_id in known:
            return known[external_id]
        return float(written(pseudo_value(external_id, low, high), decimals))

    return crowd, truth_of


def draw_span(bounds: Mapping[str, Any], known: list[float]) -> tuple[float, float]:
    """Where values are drawn for items without truth: the span of the known values, else the project's
    range (an open end DRAW_WIDTH from the other; 0 to DRAW_WIDTH without one)."""
    if known and max(known) > min(known):
        return min(known), max(known)
    low, high = bounds.get("min"), bounds.get("max")
    if low is None:
        low = 0.0 if high is None else high - DRAW_WIDTH
    if high is None:
        high = low + DRAW_WIDTH
    return float(low), float(high)


def written_decimals(values: list[float]) -> int:
    """The decimals the known values are written with (0: whole numbers; at most 6): the crowd writes alike."""
    from truthline.tasktypes.numeric import decimals_written

    decimals = decimals_written(np.array(values, dtype=np.float64))
    return 6 if decimals is None else decimals


def crowd_table(crowd: list[Any], per_worker: Mapping[str, int]) -> Table:
    """The simulated workers as drawn (what `truthline workers` estimates) and how many labels each gave."""
    numeric = bool(crowd) and hasattr(crowd[0], "bias")
    table = Table("worker", "kind", *(("true bias", "true noise") if numeric else ("true accuracy",)), "labels")
    for w in crowd:
        figures = (f"{w.bias:+.3g}", f"{w.noise:.3g}") if numeric else (f"{w.accuracy:.2f}",)  # answers' units
        table.add_row(w.name, w.kind, *figures, str(per_worker.get(w.name, 0)))
    return table


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
