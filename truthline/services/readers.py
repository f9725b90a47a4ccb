"""Readers for import files: each yields (line_no, record) with line_no 1-based (the line in JSONL/CSV,
the record's position in a JSON array or Parquet file). A line that cannot be parsed yields
(line_no, Problem) instead, so the importer can report every bad line at once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, BinaryIO

import orjson

from truthline.errors import Invalid, Problem
from truthline.services.text import unguarded

FORMATS = ("jsonl", "json", "csv", "parquet")
csv.field_size_limit(2**31 - 1)  # inline images in a CSV cell exceed the 128 KiB default; uploads are size-capped


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (use null or a number)")


_decode = json.JSONDecoder(parse_constant=_no_constants).decode  # one decoder (json.loads(**kw) builds one per call)


def _loads(raw: bytes | str) -> Any:
    """json.loads that refuses NaN/Infinity (no database stores them as JSON). Bytes must be UTF-8."""
    return _decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
Record = tuple[int, "dict[str, Any] | Problem"]


def read_records(stream: BinaryIO, fmt: str) -> Iterator[Record]:
    """Records from a binary stream in `fmt` (jsonl | json | csv | parquet), read incrementally."""
    readers = {"jsonl": _jsonl, "json": _json, "csv": _csv, "parquet": _parquet}
    if fmt not in readers:
        raise Invalid(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", field="format")
    return readers[fmt](stream)


def format_for(filename: str) -> str:
    """The format a file name implies (.jsonl/.ndjson, .json, .csv, .parquet)."""
    lower = filename.lower()
    for suffix, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"),
                        (".parquet", "parquet"), (".pq", "parquet")):
        if lower.endswith(suffix):
            return fmt
    raise Invalid(f"cannot tell the format of {filename!r}; name it .jsonl, .json, .csv or .parquet",
                  field="file")


# orjson parses a JSONL line ~4x faster than json and gives the same values, except that it rejects
# NaN/Infinity/1e400 and lone surrogate escapes (json yields values the importer then reports per field)
# and turns integers beyond 64 bits into floats. Lines orjson rejects, and records holding a float of
# 2**63 or more (possibly such an integer), are parsed again by json: same records, same messages.
_BIG = 2.0**63


def _exact(value: Any) -> bool:
    """No float in value that orjson may have made out of a big integer (iterative: deep nesting is fine)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t is float and not -_BIG < v < _BIG:
            return False
    return True


def _jsonl(stream: BinaryIO) -> Iterator[Record]:
    fast = orjson.loads
    for line_no, raw in enumerate(stream, 1):
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # UTF-8 byte order mark
        try:
            record = fast(raw)
            if _exact(record):
                yield line_no, record
                continue
        except orjson.JSONDecodeError:
            pass
        if not raw.strip():
            continue
        try:
            record = _loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            yield line_no, Problem(f"not valid JSON: {exc}")
            continue
        yield line_no, record


def _json(stream: BinaryIO) -> Iterator[Record]:
    try:
        raw = stream.read()
        doc = _loads(raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid(f"not valid JSON: {exc}", field="file") from None
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):
        doc = doc["items"]
    if not isinstance(doc, list):
        raise Invalid("expected a JSON array of item records (or {\"items\": [...]})", field="file")
    yield from enumerate(doc, 1)


def _cell_json(value: str) -> Any:
    """A CSV cell holding an answer: JSON when it reads as JSON (lists, objects, quoted), else the text, so
    a label named "[draft]" or "{x}" is itself."""
    text = value.strip()
    if not text:
        return None
    if text[0] in "[{\"":
        try:
            return _loads(text)
        except (ValueError, RecursionError):
            return text
    return text


def read_label_records(stream: BinaryIO, fmt: str) -> Iterator[Record]:
    """Label records {external_id, worker, answer, active_ms} from jsonl | json | csv. A CSV has those
    columns (active_ms optional); its answer cell is JSON where it looks like JSON (a multilabel list such
    as ["red","round"]), else the text."""
    if fmt not in ("jsonl", "json", "csv"):
        raise Invalid("labels are read from .jsonl, .json or .csv records {external_id, worker, answer, "
                      "active_ms}", field="format")
    return _csv(stream, _csv_label_record, LABEL_COLUMNS) if fmt == "csv" else read_records(stream, fmt)


LABEL_COLUMNS = ("external_id", "worker", "answer")


def _csv_label_record(row: dict[str, Any]) -> dict[str, Any]:
    record = {key: unguarded(value) for key, value in row.items()}
    if "answer" in record:
        record["answer"] = _cell_json(record["answer"])
    ms = record.pop("active_ms", "").strip()
    if ms:
        try:
            record["active_ms"] = int(ms)
        except ValueError:
            raise _CellError(f"must be an integer number of milliseconds, got {ms!r}", "active_ms") from None
    return record


def _csv(stream: BinaryIO, to_record: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
         required: tuple[str, ...] = ("external_id",)) -> Iterator[Record]:
    """Records from CSV rows (`to_record`: a row as a record; default: an item, `_csv_record`), under a
    header holding the `required` columns. A record is named by the line it starts on: a quoted cell may
    run over several lines."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    done = 0  # last physical line of the last row read: the next one starts after it
    try:
        reader = csv.reader(text, strict=True)  # strict: an unclosed quote is an error, not the rest of the file
        fields = next(reader, [])
        done = reader.line_num
        missing = [name for name in required if name not in fields]
        if missing:
            raise Invalid(f"CSV needs a header row with the column(s) {', '.join(required)}; missing: "
                          f"{', '.join(missing)}", field=missing[0], line=1)
        repeated = sorted({f for f in fields if fields.count(f) > 1})
        if repeated:  # a dict of the row would keep the last one silently
            raise Invalid(f"CSV header repeats column(s): {', '.join(repeated)}", field="file", line=1)
        if to_record is None:
            to_record = partial(_csv_record, export=_is_export(list(fields)))
        for cells in reader:
            line_no, done = done + 1, reader.line_num
            if not cells:  # a blank line
                continue
            if len(cells) != len(fields):
                yield line_no, Problem(f"{len(cells)} cells but the header has {len(fields)}")
                continue
            try:
                yield line_no, to_record(dict(zip(fields, cells)))
            except ValueError as exc:
                yield line_no, Problem(str(exc), field=getattr(exc, "field", None))
    except UnicodeDecodeError as exc:
        line = _first_non_utf8_line(stream)
        where = f"line {line}: " if line else ""
        raise Invalid(f"CSV {where}not UTF-8 text ({exc.reason}); save the file as UTF-8", field="file",
                      line=line) from None
    except csv.Error as exc:
        raise Invalid(f"CSV cannot be read in the record starting at line {done + 1}: {exc}", field="file",
                      line=done + 1) from None
    finally:
        text.detach()


def _first_non_utf8_line(stream: BinaryIO) -> int | None:
    """The first line that is not UTF-8, read again from the start (the decoder reads ahead in blocks, so
    its error does not say where), or None for a stream that cannot go back."""
    try:
        stream.seek(0)
    except (OSError, ValueError):
        return None
    for line_no, raw in enumerate(stream, 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return line_no
    return None


class _CellError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# The columns a CSV export adds to external_id and data. Read back as items, they were merged into each
# item's data, so re-importing an export rewrote every item and showed annotators the crowd's answers.
EXPORT_COLUMNS = frozenset({"answer", "confidence", "n_labels", "annotations"})
# result columns only some exports have (rating: estimate; numeric: estimate, stderr; probabilities: p:LABEL)
EXPORT_EXTRAS = frozenset({"estimate", "stderr"})


def _is_export(fields: list[str]) -> bool:
    return "data" in fields and EXPORT_COLUMNS <= set(fields)


def _csv_record(row: dict[str, Any], export: bool = False) -> dict[str, Any]:
    """An item from a CSV row: external_id, priority, gold, truth, data (a JSON object), and every other
    column as a data field (an empty cell is no field: text and image items can share a file). `export`:
    the row comes from a Truthline CSV export, whose answer, confidence, n_labels, annotations, estimate,
    stderr and p:LABEL columns are results, not item data."""
    # only external ids are ever defused by our exports; a data cell such as "'-' is a dash" stays as written
    record: dict[str, Any] = {"external_id": unguarded(row.get("external_id") or "")}
    data: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("external_id", None) or (export and (key in EXPORT_COLUMNS or key in EXPORT_EXTRAS
                                                        or key.startswith("p:"))):
            continue
        if key == "priority":
            if value.strip():
                try:
                    record["priority"] = int(value)
                except ValueError:
                    raise _CellError(f"must be an integer, got {value!r}", "priority") from None
        elif key in ("gold", "truth"):
            record[key] = _cell_json(value)
        elif key == "data":
            try:
                record["data"] = _loads(value) if value.strip() else {}
            except (ValueError, RecursionError):
                raise _CellError("is not valid JSON (the data column holds a JSON object)", "data") from None
        elif value != "":
            data[key] = value
    if data:
        if isinstance(record.get("data"), dict):
            record["data"] = {**data, **record["data"]}
        elif "data" not in record:
            record["data"] = data
    return record


def _parquet(stream: BinaryIO) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(stream)
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid(f"not a readable Parquet file: {exc}", field="file") from None
    line_no = 0
    try:
        for batch in pfile.iter_batches(batch_size=10_000):
            yield from _parquet_rows(batch.to_pylist(), line_no)
            line_no += batch.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise Invalid(f"Parquet file cannot be read after record {line_no}: {exc}", field="file") from None


def _parquet_rows(rows: list[dict[str, Any]], line_no: int) -> Iterator[Record]:
    for row in rows:
        line_no += 1
        if isinstance(row.get("data"), str):
            try:
                row["data"] = _loads(row["data"])
            except (ValueError, RecursionError):
                yield line_no, Problem("is not valid JSON", field="data")
                continue
        if "data" not in row:
            extra = {k: v for k, v in row.items() if k not in ("external_id", "priority", "gold", "truth")}
            row = {k: v for k, v in row.items() if k not in extra}
            row["data"] = {k: v for k, v in extra.items() if v is not None}  # a null cell is no field
        yield line_no, {k: v for k, v in row.items() if v is not None or k == "data"}
