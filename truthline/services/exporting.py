"""Streaming export: one row per item with its data, inferred answer, confidence and every raw
annotation. Items and annotations are read in keyset batches, so memory stays flat in the number of
items (inference needs the label arrays, which are small). Gold and hidden truth are not exported."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine

from truthline.errors import Invalid
from truthline.services.results import load_for
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import User, to_datetime

FORMATS = ("jsonl", "csv", "parquet")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}
BATCH = 5000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iter_export(engine: Engine, actor: User, project_id: int, fmt: str, method: str = "auto") -> Iterator[bytes]:
    """Authorize and infer now (errors surface before any byte is sent); return an iterator of chunks."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}", field="format")
    data = load_for(engine, actor, project_id)
    inf = data.infer(method)
    by_id = {int(item_id): i for i, item_id in enumerate(data.item_ids.tolist())}
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
          confidence: list[float]) -> Iterator[list[dict[str, Any]]]:
    with read_tx(engine) as conn:
        for batch in item_store.iter_batches(conn, project_id, BATCH):
            notes: dict[int, list[dict[str, Any]]] = {}
            for a in annotation_store.for_items(conn, project_id, batch[0].id, batch[-1].id):
                notes.setdefault(a.item_id, []).append({
                    "worker": a.username, "answer": a.answer, "active_ms": a.active_ms,
                    "created_at": to_datetime(a.created_at).isoformat()})
            out = []
            for item in batch:
                i = by_id.get(item.id)
                conf = None if i is None or math.isnan(confidence[i]) else round(confidence[i], 6)
                out.append({"external_id": item.external_id, "data": item.data,
                            "answer": None if i is None else answers[i], "confidence": conf,
                            "annotations": notes.get(item.id, [])})
            yield out


def _jsonl(batches: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    for batch in batches:
        yield "".join(_dumps(row) + "\n" for row in batch).encode()


def _csv(batches: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["external_id", "data", "answer", "confidence", "n_labels", "annotations"])
    for batch in batches:
        for row in batch:
            answer = row["answer"]
            writer.writerow([row["external_id"], _dumps(row["data"]),
                             "" if answer is None else answer if isinstance(answer, str) else _dumps(answer),
                             "" if row["confidence"] is None else row["confidence"], len(row["annotations"]),
                             _dumps(row["annotations"])])
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


def _parquet(batches: Iterator[list[dict[str, Any]]]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    note = pa.struct([("worker", pa.string()), ("answer", pa.string()), ("active_ms", pa.int64()),
                      ("created_at", pa.string())])
    schema = pa.schema([("external_id", pa.string()), ("data", pa.string()), ("answer", pa.string()),
                        ("confidence", pa.float64()), ("annotations", pa.list_(note))])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    for batch in batches:
        columns = {
            "external_id": [r["external_id"] for r in batch],
            "data": [_dumps(r["data"]) for r in batch],
            "answer": [None if r["answer"] is None else r["answer"] if isinstance(r["answer"], str)
                       else _dumps(r["answer"]) for r in batch],
            "confidence": [r["confidence"] for r in batch],
            "annotations": [[{**a, "answer": a["answer"] if isinstance(a["answer"], str) else _dumps(a["answer"])}
                             for a in r["annotations"]] for r in batch],
        }
        writer.write_table(pa.table(columns, schema=schema))
        yield sink.take()
    writer.close()
    yield sink.take()
