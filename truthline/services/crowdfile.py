"""Truth inference on a crowd label file, outside any project (`truthline infer`).

A labels file holds one row per answer: item, worker, label (CSV with a header, JSONL or Parquet), the
layout of crowd-kit and of most published crowdsourcing data sets; repeated (item, worker) rows are kept.
Optional files give gold answers (clamped, as in a project) and truth (only compared against, never shown
to the method). Ids and labels are read as text, so "007" stays "007". No database is involved.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from truthline.errors import Invalid
from truthline.quality import Aggregate, CrowdLabels, QualityInputError, aggregate
from truthline.quality.auto import CANDIDATES
from truthline.quality.workers import worker_stats

# accepted column names, first match wins
ITEM = ("item", "task", "item_id", "external_id")
WORKER = ("worker", "worker_id", "annotator", "user")
LABEL = ("label", "answer")
VALUE = ("truth", "gold", "label", "answer")


@dataclass(frozen=True)
class CrowdProblem:
    """Labels as index arrays plus what each index means; gold and truth by item index (class index)."""

    labels: CrowdLabels
    items: list[str]
    workers: list[str]
    classes: list[str]
    gold: dict[int, int]
    truth: dict[int, str]  # text, not a class index: a truth nobody answered is still a truth


@dataclass(frozen=True)
class Inferred:
    aggregate: Aggregate
    answers: list[str | None]  # per item; None for an item without labels (only possible with gold)
    confidence: np.ndarray
    n_labels: np.ndarray
    accuracy: float | None  # against truth, over items that have one
    n_scored: int
    model_weights: dict[str, float]
    seconds: float


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    formats = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in formats:
        raise Invalid(f"{path.name}: cannot tell the format; name it .csv, .jsonl or .parquet", field="file")
    return formats[suffix]


def _read_table(path: Path) -> Any:
    """The file as a pyarrow Table (CSV columns read as text: no type guessing turns "007" into 7)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    fmt = _format(path)
    try:
        if fmt == "csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                header = next(csv.reader(fh), [])
            if not header:
                raise Invalid(f"{path.name}: empty file; expected a header row such as item,worker,label",
                              field="file", line=1)
            convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                           strings_can_be_null=True)
            return pacsv.read_csv(path, convert_options=convert)
        if fmt == "jsonl":
            return pajson.read_json(path)
        return pq.read_table(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise Invalid(f"{path.name}: cannot be read as {fmt}: {exc}", field="file") from None


def _first_row_line(fmt: str, row: int) -> int:
    """1-based line of a row (CSV: after the header; assumes no line breaks inside cells)."""
    return row + 2 if fmt == "csv" else row + 1


def _text_column(table: Any, names: Sequence[str], path: Path, what: str) -> tuple[str, Any]:
    """(column name, column as text) for the first of `names` present; refuses missing or empty cells."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = next((n for n in names if n in table.column_names), None)
    if found is None:
        have = ", ".join(table.column_names) or "none"
        raise Invalid(f"{path.name}: no {what} column (expected one of: {', '.join(names)}; found: {have})",
                      field=names[0])
    try:
        column = table.column(found).cast(pa.string()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise Invalid(f"{path.name}: column {found!r} must hold text or numbers ({exc})", field=found) from None
    missing = pc.or_kleene(pc.is_null(column), pc.equal(pc.utf8_trim_whitespace(column), ""))
    if pc.any(missing).as_py():
        row = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
        line = _first_row_line(_format(path), row)
        raise Invalid(f"{path.name}: line {line}: {found} is empty", field=found, line=line)
    return found, column


def _codes(column: Any) -> tuple[np.ndarray, list[str]]:
    """Integer codes and the distinct values, in first-seen order."""
    encoded = column.dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()


def _class_order(values: set[str]) -> list[str]:
    """Numeric labels in numeric order ("2" before "10"), others as text."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _answers_file(path: Path, item_index: dict[str, int]) -> tuple[dict[int, str], int]:
    """item index -> value for the items of the labels file; and how many rows name other items."""
    table = _read_table(path)
    _, items = _text_column(table, ITEM, path, "item")
    _, values = _text_column(table, VALUE, path, "answer (truth/gold/label/answer)")
    out: dict[int, str] = {}
    unknown = 0
    for item, value in zip(items.to_pylist(), values.to_pylist(), strict=True):
        index = item_index.get(item)
        if index is None:
            unknown += 1
        else:
            out[index] = value
    return out, unknown


def load(labels_path: Path, gold_path: Path | None = None, truth_path: Path | None = None) -> CrowdProblem:
    """Read a labels file (and optional gold/truth files) into index arrays."""
    table = _read_table(labels_path)
    if table.num_rows == 0:
        raise Invalid(f"{labels_path.name}: no labels in the file", field="file")
    _, item_col = _text_column(table, ITEM, labels_path, "item")
    _, worker_col = _text_column(table, WORKER, labels_path, "worker")
    _, label_col = _text_column(table, LABEL, labels_path, "label")
    items, item_names = _codes(item_col)
    workers, worker_names = _codes(worker_col)
    label_codes, label_names = _codes(label_col)
    item_index = {name: i for i, name in enumerate(item_names)}
    gold_text, _ = _answers_file(gold_path, item_index) if gold_path else ({}, 0)
    truth, _ = _answers_file(truth_path, item_index) if truth_path else ({}, 0)
    classes = _class_order(set(label_names) | set(gold_text.values()))  # truth stays out: it must not inform
    if len(classes) == 1:  # everyone gave the same answer: still a choice between it and "something else"
        classes.append("")  # (no cell is empty, so this name is free)
    position = {name: k for k, name in enumerate(classes)}
    to_class = np.array([position[name] for name in label_names], dtype=np.int64)
    try:
        crowd = CrowdLabels.from_arrays(items, workers, to_class[label_codes], n_items=len(item_names),
                                        n_workers=len(worker_names), n_classes=len(classes))
    except QualityInputError as exc:
        raise Invalid(f"{labels_path.name}: {exc}", field=exc.field) from None
    gold = {i: position[v] for i, v in gold_text.items()}
    return CrowdProblem(crowd, item_names, worker_names, classes, gold, truth)


def infer(problem: CrowdProblem, method: str = "auto") -> Inferred:
    """Run `method` (gold clamped) and score it against truth where given."""
    started = time.perf_counter()
    try:
        agg = aggregate(problem.labels, method, known=problem.gold or None)
    except QualityInputError as exc:
        raise Invalid(str(exc), field=exc.field or "method") from None
    seconds = time.perf_counter() - started
    n_labels = np.bincount(problem.labels.items, minlength=problem.labels.n_items)
    labelled = (n_labels > 0) | np.isin(np.arange(len(n_labels)), list(problem.gold))
    best = agg.posteriors.argmax(axis=1)
    answers = [problem.classes[int(k)] if ok else None for k, ok in zip(best.tolist(), labelled.tolist())]
    scored = [answers[i] == value for i, value in problem.truth.items()]
    weights = agg.worker_params.get("model_weights") if method == "auto" else None
    return Inferred(
        aggregate=agg,
        answers=answers,
        confidence=agg.posteriors.max(axis=1),
        n_labels=n_labels,
        accuracy=float(np.mean(scored)) if scored else None,
        n_scored=len(scored),
        model_weights={} if weights is None else {n: round(float(w), 4) for n, w in zip(CANDIDATES, weights)},
        seconds=seconds,
    )


def write_answers(path: Path, problem: CrowdProblem, result: Inferred) -> int:
    """item, answer, confidence, n_labels per item to a .csv or .jsonl file; returns the rows written."""
    fmt = _format(path)
    if fmt == "parquet":
        raise Invalid(f"{path.name}: write answers as .csv or .jsonl", field="out")
    rows = zip(problem.items, result.answers, result.confidence.tolist(), result.n_labels.tolist(), strict=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if fmt == "csv":
            writer = csv.writer(fh)
            writer.writerow(["item", "answer", "confidence", "n_labels"])
            writer.writerows((i, a if a is not None else "", f"{c:.6f}", n) for i, a, c, n in rows)
        else:
            for i, a, c, n in rows:
                fh.write(json.dumps({"item": i, "answer": a, "confidence": round(c, 6), "n_labels": n}) + "\n")
    return len(problem.items)


def _number(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


def write_workers(path: Path, problem: CrowdProblem, result: Inferred, level: float = 0.95) -> int:
    """worker, n_labels, accuracy with its credible interval, spammer score, to .csv or .jsonl."""
    fmt = _format(path)
    if fmt == "parquet":
        raise Invalid(f"{path.name}: write workers as .csv or .jsonl", field="workers_out")
    agg = result.aggregate
    stats = worker_stats(problem.labels, agg.posteriors, confusion=agg.worker_params.get("confusion"), level=level)
    counts = np.bincount(problem.labels.workers, minlength=problem.labels.n_workers).tolist()
    columns = ("worker", "n_labels", "accuracy", "lower", "upper", "spammer_score")
    rows = [(w, n, *(_number(x) for x in values))
            for w, n, *values in zip(problem.workers, counts, stats.accuracy, stats.lower, stats.upper,
                                     stats.spammer_score, strict=True)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if fmt == "csv":
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(rows)
        else:
            for row in rows:
                fh.write(json.dumps(dict(zip(columns, row))) + "\n")
    return len(rows)
