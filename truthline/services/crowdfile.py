"""Truth inference on a crowd label file, outside any project (`truthline infer`).

A labels file holds one row per answer (CSV with a header, JSONL or Parquet), the layout of crowd-kit and
of most published crowdsourcing data sets; repeated (item, worker) rows are kept. Three kinds:
- categorical: item, worker, label. Optional files give gold answers (clamped, as in a project) and truth
  (only compared against, never shown to the method).
- numeric: item, worker, value; robust weighted mean per item with worker noise and bias; truth scored
  by mean absolute error.
- pairwise: item_a, item_b, winner (the winning item's id, or "a"/"b"), worker; noisy-worker
  Bradley-Terry score and interval per item; truth scores compared by Spearman rank correlation.
- multilabel: item, worker, labels (a JSON list, "a|b", or empty for none); the chosen method per label;
  truth sets scored by exact match.
Ids and labels are read as text, so "007" stays "007". No database is involved.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import re
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from truthline.errors import Invalid, shown
from truthline.quality import (Aggregate, CrowdLabels, QualityInputError, ReliabilityBin, aggregate, binned_error,
                               class_confusion, reliability, top_confusions)
from truthline.quality.auto import CANDIDATES
from truthline.quality.auto import choice as auto_choice
from truthline.quality.workers import worker_stats
from truthline.services.text import GUARDED_CELL, csv_text

# accepted column names, first match wins
ITEM = ("item", "task", "item_id", "external_id")
WORKER = ("worker", "worker_id", "annotator", "user")
LABEL = ("label", "answer")
VALUE = ("truth", "gold", "label", "answer")
NUMBER = ("value", "label", "answer")
ITEM_A = ("item_a", "left", "a")
ITEM_B = ("item_b", "right", "b")
WINNER = ("winner", "label", "answer")
LABELS = ("labels", "label", "answer")
KINDS = ("categorical", "numeric", "pairwise", "multilabel")


@dataclass(frozen=True)
class CrowdProblem:
    """Labels as index arrays plus what each index means; gold and truth by item index (class index)."""

    labels: CrowdLabels
    items: list[str]
    workers: list[str]
    classes: list[str]
    gold: dict[int, int]
    truth: dict[int, str]  # text, not a class index: a truth nobody answered is still a truth
    unmatched: dict[str, int]  # "gold"/"truth" -> rows naming items the labels file does not have (ignored)


@dataclass(frozen=True)
class Inferred:
    aggregate: Aggregate
    answers: list[str]  # per item (every item of a labels file has a label)
    confidence: np.ndarray
    n_labels: np.ndarray
    accuracy: float | None  # against truth, over items that have one and are not gold (clamped: always right)
    n_scored: int
    model_weights: dict[str, float]
    temperature: float | None  # auto's tempering of its posteriors (None for other methods)
    temperature_gold_items: int  # gold items that checked it (0: held-out labels alone)
    seconds: float
    # confidence against truth on the scored items that are not gold (gold is certain by construction);
    # empty without truth
    reliability: list[ReliabilityBin] = dataclasses.field(default_factory=list)
    calibration_error: float | None = None
    # the most frequent confusions by the answers: (answer, label given, labels, share of the answer's labels)
    confusions: list[tuple[str, str, int, float]] = dataclasses.field(default_factory=list)
    truth_gold: int = 0  # items with truth left out of the scores as they are gold


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    formats = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in formats:
        raise Invalid(f"{path.name}: cannot tell the format; name it .csv, .jsonl or .parquet", field="file")
    return formats[suffix]


def _read_table(path: Path) -> Any:
    """The file as a pyarrow Table (CSV columns read as text: no type guessing turns "007" into 7); column
    names trimmed, a repeated one refused."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    fmt = _format(path)
    try:
        if fmt == "csv":
            header = next((record for _, record in _csv_records(path)), [])
            if not header:
                raise Invalid(f"{path.name}: empty file; expected a header row such as item,worker,label",
                              field="file", line=1)
            # only an empty cell is missing: pyarrow's default null spellings (NA, null, NaN, ...) are real ids
            convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                           null_values=[""], strings_can_be_null=True)
            try:
                table = pacsv.read_csv(path, convert_options=convert)
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc):
                    raise
                # a row longer than pyarrow's 1 MB block: read again in one block as big as the file
                table = pacsv.read_csv(path, convert_options=convert, read_options=pacsv.ReadOptions(
                    block_size=_whole_file_block(path)))
            _refuse_unclosed_quote(table, path)
        elif fmt == "jsonl":
            try:
                table = _read_jsonl(path)
                table.validate(full=True)  # pyarrow takes bytes that are not UTF-8 into its text columns
            except pa.ArrowInvalid as exc:
                if "changed from" not in str(exc):
                    raise
                table = _jsonl_as_text(path)  # a field that is a number on one line and text on another
        else:
            table = pq.read_table(path)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _unreadable(path, fmt, exc) from None
    return _unique_names(table.rename_columns([name.strip() for name in table.column_names]), path)


def _whole_file_block(path: Path) -> int:
    return int(min(max(path.stat().st_size + 1, 1 << 20), (1 << 31) - 1))


def _read_jsonl(path: Path) -> Any:
    """pyarrow's JSONL reader; a line longer than its 1 MB block is read again in one block."""
    import pyarrow as pa
    import pyarrow.json as pajson

    try:
        return pajson.read_json(path)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
        return pajson.read_json(path, read_options=pajson.ReadOptions(block_size=_whole_file_block(path)))


def _json_text(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold: exact integers (pyarrow reads those past 2^63 as
    floats, and 12345678901234567890 and ...891 would become one id), lists and objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 1.0 and 1 are one number, as pyarrow reads them
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def _jsonl_as_text(path: Path, only: str | None = None) -> Any:
    """A JSONL file read by Python with every field as text (`_json_text`), or just the field `only`:
    for files pyarrow refuses (a field that is a number on one line and text on another) or reads
    inexactly (ids too large for 64 bits)."""
    import pyarrow as pa

    columns: dict[str, list[str | None]] = {}
    rows = 0
    for n, text in _jsonl_records(path):
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise Invalid(f"{path.name}: line {n}: cannot be read as jsonl: {exc}", field="file", line=n) from None
        if not isinstance(record, dict):
            raise Invalid(f"{path.name}: line {n}: cannot be read as jsonl: not a JSON object", field="file", line=n)
        for key, value in record.items():
            if only is None or key == only:
                columns.setdefault(key, [None] * rows).append(_json_text(value))
        rows += 1
        for values in columns.values():
            values.extend([None] * (rows - len(values)))
    return pa.table({key: pa.array(values, pa.string()) for key, values in columns.items()})


def _unique_names(table: Any, path: Path) -> Any:
    """`table`, refused when a column name appears twice (pyarrow reads it; asking for it then fails)."""
    seen: set[str] = set()
    for name in table.column_names:
        if name in seen:
            line = 1 if _format(path) == "csv" else None
            where = f"line {line}: " if line else ""
            raise Invalid(f"{path.name}: {where}column {name!r} appears twice", field=name, line=line)
        seen.add(name)
    return table


def _unreadable(path: Path, fmt: str, exc: Exception) -> Invalid:
    """pyarrow's read error with the line Python's own reader stops at: its "row N" counts within a block
    of the file, so it is left out."""
    reason = re.sub(r" in row \d+$", "", str(exc))
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in reason:
        line = _bad_utf8_line(path) if fmt != "parquet" else None
        where = f"line {line}: " if line else ""
        return Invalid(f"{path.name}: {where}not UTF-8 text; save the file as UTF-8", field="file", line=line)
    line = _bad_line(path, fmt) if fmt != "parquet" else None
    where = f"line {line}: " if line else ""
    return Invalid(f"{path.name}: {where}cannot be read as {fmt}: {reason}", field="file", line=line)


def _refuse_unclosed_quote(table: Any, path: Path) -> None:
    """pyarrow reads a quote that is never closed as one cell running to the end of the file, so every
    row after it would be lost without a word. Such a cell holds a line break in the last row; only then
    is the file read again by Python's strict reader to tell it from a real multi-line cell."""
    last = table.slice(table.num_rows - 1).to_pylist()[0] if table.num_rows else {}
    if not any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in last.values()):
        return
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader, end = csv.reader(fh, strict=True), 0
        try:
            for _ in reader:
                end = reader.line_num
        except csv.Error:
            line = end + 1
            raise Invalid(f"{path.name}: line {line}: a quoted cell is never closed (the file ends inside its "
                          '"..."), so the rows after it would be lost', field="file", line=line) from None


def _bad_utf8_line(path: Path) -> int | None:
    """The first line that is not UTF-8, or None."""
    try:
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return n
    except OSError:
        return None
    return None


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) per CSV record, blank lines skipped as pyarrow skips them; a quoted cell may
    span lines."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader, end = csv.reader(fh), 0
        for record in reader:
            if record:
                yield end + 1, record
            end = reader.line_num


def _jsonl_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line, text) per JSONL record: pyarrow skips blank lines."""
    with open(path, "rb") as fh:
        yield from ((n, text) for n, text in enumerate(fh, 1) if text.strip())


def _bad_line(path: Path, fmt: str) -> int | None:
    """The first record Python's reader finds wrong (CSV: a cell count other than the header's; JSONL: not a
    JSON object, or a field of another kind than on the lines before, which pyarrow refuses as "changed from
    number to string"), or None."""
    try:
        if fmt == "csv":
            records = _csv_records(path)
            width = len(next(records, (0, []))[1])
            return next((n for n, record in records if len(record) != width), None)
        kinds: dict[str, str] = {}
        for n, text in _jsonl_records(path):
            try:
                record = json.loads(text)
                json.dumps(record, ensure_ascii=False).encode("utf-8")  # a lone surrogate ("\ud800") fails here
            except (ValueError, UnicodeEncodeError):
                return n
            if not isinstance(record, dict):
                return n
            for key, value in record.items():
                if value is not None and kinds.setdefault(key, _json_kind(value)) != _json_kind(value):
                    return n
    except (csv.Error, OSError):
        return None
    return None


def _json_kind(value: Any) -> str:
    """A JSON value's kind as pyarrow types a column: integers and fractions are both numbers."""
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


def _line(path: Path, row: int) -> int:
    """1-based line where data row `row` starts. Only for error messages: it reads the file again, as
    pyarrow skips blank lines and a quoted CSV cell can span lines (Parquet: the row, counted from 1)."""
    fmt = _format(path)
    if fmt == "parquet":
        return row + 1
    try:
        records = _csv_records(path) if fmt == "csv" else _jsonl_records(path)
        skip = row + 1 if fmt == "csv" else row  # a CSV's first record is its header
        return next(n for k, (n, _) in enumerate(records) if k == skip)
    except (csv.Error, OSError, StopIteration):  # cannot recount: the count without blank lines
        return row + 2 if fmt == "csv" else row + 1


def _text_column(table: Any, names: Sequence[str], path: Path, what: str) -> tuple[str, Any]:
    """(column name, column as text, trimmed) for the first of `names` present; refuses missing or empty
    cells."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = next((n for n in names if n in table.column_names), None)
    if found is None:
        have = ", ".join(table.column_names) or "none"
        raise Invalid(f"{path.name}: no {what} column (expected one of: {', '.join(names)}; found: {have})",
                      field=names[0])
    raw = table.column(found).combine_chunks()
    if (pa.types.is_floating(raw.type) and _format(path) == "jsonl"  # ids past 2^63 came out as floats,
            and (pc.max(pc.abs(raw)).as_py() or 0.0) >= 2.0**53):  # and past 2^53 floats skip integers
        raw = _jsonl_as_text(path, only=found).column(found).combine_chunks()
    try:
        column = raw.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise Invalid(f"{path.name}: column {found!r} must hold text or numbers ({exc})", field=found) from None
    missing = pc.or_kleene(pc.is_null(column), pc.equal(pc.utf8_trim_whitespace(column), ""))
    if pa.types.is_floating(raw.type):  # a NaN cell is a missing value, not an answer "nan"
        missing = pc.or_kleene(missing, pc.is_nan(raw))
    if pc.any(missing).as_py():
        row = int(np.flatnonzero(missing.to_numpy(zero_copy_only=False))[0])
        line = _line(path, row)
        raise Invalid(f"{path.name}: line {line}: {found} is empty", field=found, line=line)
    if _format(path) == "csv":  # cells a CSV of ours defused (`formula_safe`) read back as they were
        guarded = pc.match_substring_regex(column, GUARDED_CELL)
        column = pc.if_else(guarded, pc.utf8_slice_codeunits(column, 1), column)
    return found, pc.utf8_trim_whitespace(column)  # "a " and "a" are one item (or worker, or label)


def _labels_table(path: Path) -> Any:
    """A labels file's table; refuses one without rows."""
    table = _read_table(path)
    if table.num_rows == 0:
        raise Invalid(f"{path.name}: no labels in the file", field="file")
    return table


def _columns(path: Path, *wanted: tuple[Sequence[str], str]) -> list[tuple[str, Any]]:
    """(name, text column) per (accepted names, what) in `wanted`, from a labels file that has rows."""
    table = _labels_table(path)
    return [_text_column(table, names, path, what) for names, what in wanted]


def _codes(column: Any) -> tuple[np.ndarray, list[str]]:
    """Integer codes and the distinct values, in first-seen order."""
    encoded = column.dictionary_encode()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()


def _as_number(text: str) -> float | None:
    """`text` as a finite number, else None (float() also takes "1_000", "nan" and "inf")."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if "_" not in text and math.isfinite(value) else None


def _class_order(values: Collection[str]) -> list[str]:
    """Numeric labels in numeric order ("2" before "10"), others as text; equal numbers by their text, so
    the order (and with it every tie-break) never depends on the set's hash order."""
    numbers = {v: _as_number(v) for v in values}
    if None in numbers.values():
        return sorted(values)
    return sorted(values, key=lambda v: (numbers[v], v))


def _one_spelling(names: list[str]) -> list[str]:
    """`names` (distinct labels in first-seen order) with numerically equal ones ("1", "1.0") spelled as
    the first of them seen in the file, when every label is a number; text labels stay as they are."""
    numbers = [_as_number(name) for name in names]
    if None in numbers:
        return names
    first: dict[float, str] = {}
    return [first.setdefault(x, name) for x, name in zip(numbers, names, strict=True)]


def _label_spelling(label_names: Sequence[str]) -> Any:
    """value -> the labels file's spelling of the same answer: gold and truth files written by other tools
    say "1.0" where workers said "1" (pandas writes float columns so); anything else is kept as it is."""
    names, by_number = set(label_names), {}
    for name in label_names:
        if (number := _as_number(name)) is not None:
            by_number.setdefault(number, name)

    def spell(value: str) -> str:
        value = value.strip()
        return value if value in names else by_number.get(_as_number(value), value)

    return spell


def _by_item(path: Path, items: list[str], values: Sequence[Any], item_index: dict[str, int],
             field: str) -> tuple[dict[int, Any], int]:
    """item index -> value for the items of the labels file, and how many other items the file names. An
    item given twice must have the same value both times (else which one is right?)."""
    first: dict[str, int] = {}
    out: dict[int, Any] = {}
    for row, (item, value) in enumerate(zip(items, values, strict=True)):
        if item not in first:
            first[item] = row
            if item in item_index:
                out[item_index[item]] = value
        elif values[first[item]] != value:
            earlier, line = _line(path, first[item]), _line(path, row)
            said = ["|".join(sorted(v)) if isinstance(v, frozenset) else v for v in (values[first[item]], value)]
            raise Invalid(f"{path.name}: line {line}: item {shown(item)} again with {field} {shown(said[1])}; "
                          f"line {earlier} gave {shown(said[0])}", field=field, line=line)
    return out, len(first) - len(out)


def _answers_file(path: Path, item_index: dict[str, int], spell: Any, option: str) -> tuple[dict[int, str], int]:
    """item index -> value (in the labels file's spelling) for the items of the labels file; and how many
    other items the file names. option: "gold" or "truth", the file's own column name looked for first."""
    table = _read_table(path)
    _, items = _text_column(table, ITEM, path, "item")
    names = (option, *(n for n in VALUE if n != option))
    name, values = _text_column(table, names, path, f"answer ({'/'.join(names)})")
    return _by_item(path, items.to_pylist(), [spell(v) for v in values.to_pylist()], item_index, name)


def load(labels_path: Path, gold_path: Path | None = None, truth_path: Path | None = None) -> CrowdProblem:
    """Read a labels file (and optional gold/truth files) into index arrays."""
    (_, item_col), (_, worker_col), (_, label_col) = _columns(
        labels_path, (ITEM, "item"), (WORKER, "worker"), (LABEL, "label"))
    items, item_names = _codes(item_col)
    workers, worker_names = _codes(worker_col)
    label_codes, label_names = _codes(label_col)
    label_names = _one_spelling(label_names)
    item_index = {name: i for i, name in enumerate(item_names)}
    spelling = _label_spelling(label_names)
    gold_text, gold_unmatched = _answers_file(gold_path, item_index, spelling, "gold") if gold_path else ({}, 0)
    truth, truth_unmatched = _answers_file(truth_path, item_index, spelling, "truth") if truth_path else ({}, 0)
    classes = _class_order(set(label_names) | set(gold_text.values()))  # truth stays out: it must not inform
    if len(classes) == 1:  # everyone gave the same answer: still a choice between it and "something else"
        # named for the outputs (--probabilities gave it a bare "p:" column); a file can only hold it as
        # its one label, and then the other name is free
        classes.append("(other)" if classes != ["(other)"] else "(something else)")
    position = {name: k for k, name in enumerate(classes)}
    to_class = np.array([position[name] for name in label_names], dtype=np.int64)
    try:
        crowd = CrowdLabels.from_arrays(items, workers, to_class[label_codes], n_items=len(item_names),
                                        n_workers=len(worker_names), n_classes=len(classes))
    except QualityInputError as exc:
        raise Invalid(f"{labels_path.name}: {exc}", field=exc.field) from None
    gold = {i: position[v] for i, v in gold_text.items()}
    return CrowdProblem(crowd, item_names, worker_names, classes, gold, truth,
                        {"gold": gold_unmatched, "truth": truth_unmatched})


def infer(problem: CrowdProblem, method: str = "auto") -> Inferred:
    """Run `method` (gold clamped) and score it against truth where given."""
    started = time.perf_counter()
    try:
        agg = aggregate(problem.labels, method, known=problem.gold or None)
    except QualityInputError as exc:
        raise Invalid(str(exc), field=exc.field or "method") from None
    seconds = time.perf_counter() - started
    n_labels = np.bincount(problem.labels.items, minlength=problem.labels.n_items)
    answers = [problem.classes[k] for k in agg.posteriors.argmax(axis=1).tolist()]
    confidence = agg.posteriors.max(axis=1)
    hidden = [i for i in problem.truth if i not in problem.gold]
    right = np.array([answers[i] == problem.truth[i] for i in hidden], dtype=bool)
    bins = reliability(confidence[hidden], right) if hidden else []
    weights = agg.worker_params.get("model_weights") if method == "auto" else None
    counts = class_confusion(problem.labels, agg.posteriors.argmax(axis=1))
    confusions = [(problem.classes[a], problem.classes[g], n, share) for a, g, n, share in top_confusions(counts, 5)]
    return Inferred(
        aggregate=agg,
        answers=answers,
        confidence=confidence,
        n_labels=n_labels,
        accuracy=float(np.mean(right)) if hidden else None,
        n_scored=len(hidden),
        model_weights={} if weights is None else {n: round(float(w), 4) for n, w in zip(CANDIDATES, weights)},
        temperature=float(agg.worker_params["temperature"][0]) if weights is not None else None,
        temperature_gold_items=int(agg.worker_params["temperature_gold_items"][0]) if weights is not None else 0,
        seconds=seconds,
        reliability=bins,
        calibration_error=binned_error(bins) if hidden else None,
        truth_gold=len(problem.truth) - len(hidden),
        confusions=confusions,
    )


def write_answers(path: Path, problem: CrowdProblem, result: Inferred, probabilities: bool = False) -> int:
    """item, answer, confidence, n_labels per item to a .csv or .jsonl file; returns the rows written.
    probabilities: add each class's posterior (CSV: a `p:CLASS` column each; JSONL: a {class: p} object)."""
    columns: tuple[str, ...] = ("item", "answer", "confidence", "n_labels")
    rows = [(i, a, round(c, 6), n) for i, a, c, n in zip(
        problem.items, result.answers, result.confidence.tolist(), result.n_labels.tolist(), strict=True)]
    if probabilities:
        posteriors = result.aggregate.posteriors.round(6).tolist()
        if output_format(path) == "csv":
            columns += tuple(f"p:{c}" for c in problem.classes)
            rows = [(*row, *p) for row, p in zip(rows, posteriors, strict=True)]
        else:
            columns += ("probabilities",)
            rows = [(*row, dict(zip(problem.classes, p))) for row, p in zip(rows, posteriors, strict=True)]
    return write_rows(path, columns, rows)


def _number(x: float) -> float | None:
    return round(float(x), 6) if np.isfinite(x) else None


def write_workers(path: Path, problem: CrowdProblem, result: Inferred, level: float = 0.95) -> int:
    """worker, n_labels, accuracy with its credible interval, spammer score, to .csv or .jsonl."""
    agg = result.aggregate
    stats = worker_stats(problem.labels, agg.posteriors, confusion=agg.worker_params.get("confusion"), level=level)
    counts = np.bincount(problem.labels.workers, minlength=problem.labels.n_workers).tolist()
    columns = ("worker", "n_labels", "accuracy", "lower", "upper", "spammer_score")
    rows = [(w, n, *(_number(x) for x in values))
            for w, n, *values in zip(problem.workers, counts, stats.accuracy, stats.lower, stats.upper,
                                     stats.spammer_score, strict=True)]
    return write_rows(path, columns, rows, "workers_out")


@dataclass(frozen=True)
class Scored:
    """A numeric or pairwise result: one row per item (columns in order), plus a truth comparison."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    n_labels: int
    n_workers: int
    metric: str | None = None  # e.g. "mean absolute error", "Spearman rank correlation"
    value: float | None = None
    n_scored: int = 0
    note: str | None = None  # why there is no value
    truth_unmatched: int = 0  # --truth rows naming items the labels file does not have (ignored)
    gold_unmatched: int = 0  # the same for --gold (numeric)
    per_label: tuple[dict[str, Any], ...] = ()  # multilabel `auto`: each label's `auto.choice`, with its "label"


def _numbers(column: Any, name: str, path: Path, bound: float = np.inf) -> np.ndarray:
    """A text column as floats; the first cell that is not a finite number within ±bound is named with its
    line."""
    texts = column.to_pylist()
    out = np.empty(len(texts))
    for row, text in enumerate(texts):
        number = _as_number(text)
        if number is None or abs(number) > bound:
            line = _line(path, row)
            need = "a finite number" if number is None else f"within ±{bound:g} (rescale, e.g. to other units)"
            raise Invalid(f"{path.name}: line {line}: {name} must be {need}, got {shown(text)}",
                          field=name, line=line)
        out[row] = number
    return out


def _known_numbers(path: Path, item_index: dict[str, int], option: str = "truth",
                   bound: float = np.inf) -> tuple[dict[int, float], int]:
    """item index -> value of a gold or truth file (`option`: its own column name is looked for first)."""
    table = _read_table(path)
    _, items = _text_column(table, ITEM, path, "item")
    names = (option, *(n for n in VALUE + ("value", "score") if n != option))
    name, values = _text_column(table, names, path, option)
    return _by_item(path, items.to_pylist(), _numbers(values, name, path, bound).tolist(), item_index, name)


def infer_numeric(path: Path, truth_path: Path | None = None, *, bias_prior: float = 1.0,
                  gold_path: Path | None = None, method: str = "auto") -> Scored:
    """item, estimate, stderr, n_labels for a numeric labels file (robust t-model, worker noise and bias;
    bias_prior: pseudo-labels pulling each bias toward 0). Gold values are clamped and measure the workers'
    bias and noise; truth is only scored against (gold items left out: they would count as exact).
    method: as a numeric project takes it (auto or ds: that model; mv: the plain mean)."""
    from truthline.quality.numeric import MAX_ABS_VALUE, aggregate_numeric
    from truthline.tasktypes.numeric import MODEL_OPTIONS, model_for

    options = {"bias_prior": bias_prior, **MODEL_OPTIONS[model_for(method)]}

    (_, item_col), (_, worker_col), (value_name, value_col) = _columns(
        path, (ITEM, "item"), (WORKER, "worker"), (NUMBER, "value"))
    values = _numbers(value_col, value_name, path, MAX_ABS_VALUE)
    items, item_names = _codes(item_col)
    workers, worker_names = _codes(worker_col)
    item_index = {name: i for i, name in enumerate(item_names)}
    gold, gold_unmatched = _known_numbers(gold_path, item_index, "gold", MAX_ABS_VALUE) if gold_path else ({}, 0)
    try:
        fit = aggregate_numeric(items, workers, values, n_items=len(item_names), n_workers=len(worker_names),
                                known=gold or None, **options)
    except QualityInputError as exc:  # an option out of range (the file itself was checked above)
        raise Invalid(str(exc).removeprefix(f"{exc.field}: "), field=exc.field) from None
    n_labels = np.bincount(items, minlength=len(item_names))
    rows = [(name, _number(e), _number(s), int(n))
            for name, e, s, n in zip(item_names, fit.estimate, fit.stderr, n_labels, strict=True)]
    result = Scored(("item", "estimate", "stderr", "n_labels"), rows, len(values), len(worker_names),
                    gold_unmatched=gold_unmatched)
    if truth_path is None:
        return result
    truth, unmatched = _known_numbers(truth_path, item_index)
    errors = [abs(fit.estimate[i] - v) for i, v in truth.items() if i not in gold]
    note = f"all {len(truth):,} items with truth are gold" if truth and not errors else None
    return dataclasses.replace(result, metric="mean absolute error", n_scored=len(errors),
                               value=float(np.mean(errors)) if errors else None, truth_unmatched=unmatched,
                               note=note)


def infer_pairwise(path: Path, truth_path: Path | None = None, level: float = 0.95) -> Scored:
    """item, score, lower, upper, n_comparisons for a pairwise file (Bradley-Terry with noisy workers)."""
    from truthline.quality.pairwise import crowd_bradley_terry

    (_, a_col), (_, b_col), (win_name, win_col), (_, worker_col) = _columns(
        path, (ITEM_A, "item_a"), (ITEM_B, "item_b"), (WINNER, "winner"), (WORKER, "worker"))
    left, right, won = a_col.to_pylist(), b_col.to_pylist(), win_col.to_pylist()
    names = list(dict.fromkeys(left + right))
    index = {name: i for i, name in enumerate(names)}
    winner = np.empty(len(won), dtype=np.int64)
    for row, (x, y, w) in enumerate(zip(left, right, won, strict=True)):
        if x == y:
            line = _line(path, row)
            raise Invalid(f"{path.name}: line {line}: an item is compared with itself", field="item_b", line=line)
        if w not in (x, y, "a", "b"):
            line = _line(path, row)
            raise Invalid(f"{path.name}: line {line}: {win_name} must name one of the two items ({x!r} or {y!r}) "
                          f"or be a/b, got {w!r}", field=win_name, line=line)
        winner[row] = 0 if w == x else 1 if w == y else 0 if w == "a" else 1  # item ids before a/b
    a = np.array([index[x] for x in left], dtype=np.int64)
    b = np.array([index[y] for y in right], dtype=np.int64)
    workers, worker_names = _codes(worker_col)
    fit = crowd_bradley_terry(a, b, winner, workers, n_items=len(names), n_workers=len(worker_names), level=level)
    counts = np.bincount(a, minlength=len(names)) + np.bincount(b, minlength=len(names))
    rows = [(name, _number(s), _number(lo), _number(hi), int(n))
            for name, s, lo, hi, n in zip(names, fit.scores, fit.lower, fit.upper, counts, strict=True)]
    result = Scored(("item", "score", "lower", "upper", "n_comparisons"), rows, len(a), len(worker_names))
    if truth_path is None:
        return result
    truth, unmatched = _known_numbers(truth_path, index)
    keys = sorted(truth)
    scores, truths = [fit.scores[i] for i in keys], [truth[i] for i in keys]
    result = dataclasses.replace(result, metric="Spearman rank correlation", n_scored=len(keys),
                                 truth_unmatched=unmatched)
    if len(keys) < 2:
        return dataclasses.replace(result, note="needs 2 or more items with truth")
    equal = [what for what, x in (("--truth scores", truths), ("inferred scores", scores)) if np.ptp(x) == 0]
    if equal:  # a constant has no ranks to correlate (scipy would warn and give NaN)
        return dataclasses.replace(result, note=f"the {equal[0]} are all equal: no ranking to compare")
    from scipy.stats import spearmanr  # only here: scipy.stats costs a second of start-up

    return dataclasses.replace(result, value=float(spearmanr(scores, truths).statistic))


def output_format(path: Path, field: str = "out") -> str:
    """"csv" or "jsonl" from an output file's name (checked before any work is done)."""
    formats = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    if path.suffix.lower() not in formats:
        raise Invalid(f"{path.name}: write results as .csv or .jsonl", field=field)
    folder = path.parent
    if not folder.is_dir():
        raise Invalid(f"{path}: the folder {folder} does not exist", field=field)
    if not os.access(folder, os.W_OK):
        raise Invalid(f"{path}: the folder {folder} is not writable", field=field)
    return formats[path.suffix.lower()]


def _label_sets(table: Any, path: Path, names: Sequence[str] = LABELS) -> tuple[str, list[frozenset[str]]]:
    """The labels column as sets: JSON lists (cells or JSONL arrays), "a|b" text, or empty for none."""
    found = next((n for n in names if n in table.column_names), None)
    if found is None:
        raise Invalid(f"{path.name}: no labels column (expected one of: {', '.join(names)}; found: "
                      f"{', '.join(table.column_names) or 'none'})", field=names[0])
    out = []
    for row, cell in enumerate(table.column(found).to_pylist()):
        if isinstance(cell, str) and cell.strip().startswith("["):
            try:
                cell = json.loads(cell)
            except ValueError:
                line = _line(path, row)
                raise Invalid(f"{path.name}: line {line}: {found} is not a valid JSON list", field=found,
                              line=line) from None
        if cell is None and _format(path) != "csv":  # a CSV's empty cell is "none"; null here is missing
            line = _line(path, row)
            raise Invalid(f"{path.name}: line {line}: {found} is missing; write [] for no labels", field=found,
                          line=line)
        if cell is None or cell == "":
            out.append(frozenset())
        elif isinstance(cell, list):
            if not all(isinstance(x, str) and x.strip() for x in cell):  # str() would make labels of 1, None, {}
                line = _line(path, row)
                raise Invalid(f"{path.name}: line {line}: {found} must list label names (non-empty strings)",
                              field=found, line=line)
            if any("|" in x for x in cell):  # answers are written "a|b": ["a|b"] and ["a", "b"] would look alike
                line = _line(path, row)
                raise Invalid(f"{path.name}: line {line}: a label name cannot contain '|', which separates the "
                              "labels of an answer", field=found, line=line)
            out.append(frozenset(x.strip() for x in cell))  # trimmed, as "a|b" parts are
        else:
            out.append(frozenset(part.strip() for part in str(cell).split("|") if part.strip()))
    return found, out


def infer_multilabel(path: Path, truth_path: Path | None = None, method: str = "auto") -> Scored:
    """item, answer ("a|b"), n_labels for a multilabel file: `method` decides each label's yes/no."""
    from truthline.quality.multilabel import aggregate_multilabel

    table = _labels_table(path)
    _, item_col = _text_column(table, ITEM, path, "item")
    _, worker_col = _text_column(table, WORKER, path, "worker")
    _, chosen = _label_sets(table, path)
    names = sorted(set().union(*chosen))
    if not names:
        raise Invalid(f"{path.name}: no answer chose any label", field=LABELS[0])
    selected = np.array([[name in c for name in names] for c in chosen], dtype=bool)
    items, item_names = _codes(item_col)
    workers, worker_names = _codes(worker_col)
    try:
        fit = aggregate_multilabel(items, workers, selected, n_items=len(item_names), n_workers=len(worker_names),
                                   method=method)
    except QualityInputError as exc:
        raise Invalid(str(exc), field=exc.field or "method") from None
    answers = [frozenset(np.array(names)[row].tolist()) for row in fit.answers]
    n_labels = np.bincount(items, minlength=len(item_names))
    rows = [(name, "|".join(sorted(a)), int(n)) for name, a, n in zip(item_names, answers, n_labels, strict=True)]
    per_label = tuple({"label": name, "selected": int(n), "answers": len(chosen), **auto_choice(p)}
                      for name, n, p in zip(names, selected.sum(axis=0), fit.label_params) if p)
    result = Scored(("item", "answer", "n_labels"), rows, len(items), len(worker_names), per_label=per_label)
    if truth_path is None:
        return result
    index = {name: i for i, name in enumerate(item_names)}
    truth_table = _read_table(truth_path)
    _, truth_items = _text_column(truth_table, ITEM, truth_path, "item")
    name, truth_sets = _label_sets(truth_table, truth_path, ("truth", "gold") + LABELS)
    truth, unmatched = _by_item(truth_path, truth_items.to_pylist(), truth_sets, index, name)
    hits = [answers[i] == t for i, t in truth.items()]
    return dataclasses.replace(result, metric="exact-set accuracy", n_scored=len(hits),
                               value=float(np.mean(hits)) if hits else None, truth_unmatched=unmatched)


def write_rows(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]], field: str = "out") -> int:
    """Rows to a .csv (header first) or .jsonl file; returns how many. Written beside it and renamed over
    it when complete, so a failure leaves no half-written file (and an earlier one intact)."""
    fmt = output_format(path, field)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(part, "w", newline="", encoding="utf-8") as fh:
            if fmt == "csv":
                fh.write(csv_text(columns, rows))
            else:
                for row in rows:
                    fh.write(json.dumps(dict(zip(columns, row))) + "\n")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return len(rows)
