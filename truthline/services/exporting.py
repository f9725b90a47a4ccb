"""Streaming export: one row per item with its data, inferred answer, confidence and every raw
annotation. Items and annotations are read in keyset batches, so memory stays flat in the number of
items (inference needs the label arrays, which are small). Gold and hidden truth are not exported."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine

from truthline.errors import Invalid
from truthline.services.bulk import gc_paused
from truthline.services.results import load_for
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import User

FORMATS = ("jsonl", "csv", "parquet")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}
BATCH = 5000


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass
class Row:
    """One exported item. data and notes are JSON text straight from the database."""

    external_id: str
    data: str
    answer: Any
    confidence: float | None
    notes: str  # JSON array of {worker, answer, active_ms, created_at}
    n_labels: int


def iter_export(engine: Engine, actor: User, project_id: int, fmt: str, method: str = "auto") -> Iterator[bytes]:
    """Authorize and infer now (errors surface before any byte is sent); return an iterator of chunks."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}", field="format")
    with gc_paused():
        data = load_for(engine, actor, project_id)
        inf = data.infer(method)
        by_id = {item_id: i for i, item_id in enumerate(data.item_ids.tolist())}
    rows = _rows(engine, data.project.id, by_id, inf.answers, inf.confidence.tolist())
    return {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[fmt](rows)


def export(engine: Engine, actor: User, project_id: int, fmt: str, out: BinaryIO, method: str = "auto") -> int:
    """Write the export to `out`; returns the number of bytes written."""
    written = 0
    for chunk in iter_export(engine, actor, project_id, fmt, method):
        out.write(chunk)
        written += len(chunk)
    return written


def _rows(engine: Engine, project_id: int, by_id: dict[int, int], answers: list[Any],
          confidence: list[float]) -> Iterator[list[Row]]:
    with read_tx(engine) as conn:
        batches = item_store.iter_batches(conn, project_id, BATCH)
        while True:
            with gc_paused():  # one batch at a time: the consumer may be a slow HTTP client
                batch = next(batches, None)
                if batch is None:
                    return
                notes = annotation_store.notes_json(conn, project_id, batch[0][0], batch[-1][0])
                out = []
                for item_id, external_id, data in batch:
                    i = by_id.get(item_id)
                    conf = None if i is None or math.isnan(confidence[i]) else round(confidence[i], 6)
                    text, n = notes.get(item_id, ("[]", 0))
                    out.append(Row(external_id, data, None if i is None else answers[i], conf, text, n))
            yield out


def _jsonl(batches: Iterator[list[Row]]) -> Iterator[bytes]:
    for batch in batches:
        yield "".join(
            f'{{"external_id":{_encode(r.external_id)},"data":{r.data},"answer":{_encode(r.answer)},'
            f'"confidence":{_encode(r.confidence)},"annotations":{r.notes}}}\n'
            for r in batch
        ).encode()


def _answer_cell(answer: Any) -> str | None:
    return None if answer is None else answer if isinstance(answer, str) else _encode(answer)


def _csv(batches: Iterator[list[Row]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["external_id", "data", "answer", "confidence", "n_labels", "annotations"])
    for batch in batches:
        writer.writerows(
            [r.external_id, r.data, _answer_cell(r.answer) or "", "" if r.confidence is None else r.confidence,
             r.n_labels, r.notes]
            for r in batch
        )
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


class _Drain(io.RawIOBase):
    """A write-only file that hands each written block to the caller (Parquet writer -> stream)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.parts.append(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _parquet(batches: Iterator[list[Row]]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    note = pa.struct([("worker", pa.string()), ("answer", pa.string()), ("active_ms", pa.int64()),
                      ("created_at", pa.string())])
    schema = pa.schema([("external_id", pa.string()), ("data", pa.string()), ("answer", pa.string()),
                        ("confidence", pa.float64()), ("annotations", pa.list_(note))])
    loads = json.JSONDecoder().decode

    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    for batch in batches:
        columns = {
            "external_id": [r.external_id for r in batch],
            "data": [r.data for r in batch],
            "answer": [_answer_cell(r.answer) for r in batch],
            "confidence": [r.confidence for r in batch],
            "annotations": [[{**note, "answer": _answer_cell(note["answer"]) or ""} for note in loads(r.notes)]
                            for r in batch],
        }
        writer.write_table(pa.table(columns, schema=schema))
        yield sink.take()
    writer.close()
    yield sink.take()
