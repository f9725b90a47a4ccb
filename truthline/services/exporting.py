"""Streaming export: one row per item with its data, inferred answer, confidence and every raw
annotation, and on request the probability of each label (soft labels, for training on the crowd's
uncertainty). Items and annotations are read in keyset batches, so memory stays flat in the number of
items (inference needs the label arrays, which are small). Gold and hidden truth are not exported.

A pairwise project also exports `preferences`: RLHF/DPO preference pairs, one JSON line per item whose
inferred answer is "a" or "b" (ties and unanswered items are left out), streamed the same way."""

from __future__ import annotations

import io
import json
import math
import queue
import threading
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from truthline.errors import Invalid
from truthline.services.access import project_for
from truthline.services.bulk import gc_paused
from truthline.services.results import ProjectLabels, load_for, load_in, probability_rows, significant
from truthline.services.text import formula_safe
from truthline.store import annotations as annotation_store
from truthline.store import items as item_store
from truthline.store.db import read_tx
from truthline.store.records import User
from truthline.tasktypes.pairwise import side_id

FORMATS = ("jsonl", "csv", "parquet", "preferences")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
               "parquet": "application/vnd.apache.parquet", "preferences": "application/x-ndjson"}
SUFFIXES = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "preferences": "preferences.jsonl"}  # file names
BATCH = 5000


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_dumps = orjson.dumps


@dataclass
class Row:
    """One exported item. data and notes are JSON text straight from the database."""

    external_id: str
    data: str
    answer: Any
    confidence: float | None
    notes: str  # JSON array of {worker, answer, active_ms, created_at}
    n_labels: int
    probabilities: list[float] | None = None  # per project label, when asked for and the item has an answer
    extras: tuple[float | None, ...] = ()  # the task type's own columns (rating: estimate; numeric: and stderr)


def iter_export(engine: Engine, actor: User, project_id: int, fmt: str, method: str = "auto",
                probabilities: bool = False) -> Iterator[bytes]:
    """Authorize and infer now (errors surface before any byte is sent); return an iterator of chunks.

    probabilities: add each label's probability per item (JSONL: a {label: p} object; CSV: a `p:LABEL`
    column per label; Parquet: a struct with one field per label).

    fmt "preferences" (pairwise projects only): {external_id, prompt, chosen, rejected, chosen_id,
    rejected_id, confidence, prompt_image} per item the crowd preferred a side of; see `_preferences`."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}", field="format")
    with read_tx(engine) as conn:
        project, _ = project_for(conn, actor, project_id, manage=True)  # before any reading on the actor's behalf
    pairs = fmt == "preferences"
    if pairs and project.task_type != "pairwise":
        raise Invalid(f"preferences (chosen/rejected pairs) come from pairwise projects; project {project.id} is "
                      f"{project.task_type}: export it as jsonl, csv or parquet", field="format")
    if pairs and probabilities:
        raise Invalid("preferences carry each pair's confidence, not per-label probabilities; drop probabilities "
                      "(or export jsonl with them)", field="probabilities")
    # reads the labels, then items (and annotations, but preferences need none) while we infer
    ahead = _Prefetch(engine, actor, project_id, notes=not pairs)
    try:
        data = ahead.labels()
        with gc_paused():
            inf = data.infer(method)
            by_id = {item_id: i for i, item_id in enumerate(data.item_ids.tolist())}
            probs = probability_rows(inf) if probabilities else None
    except BaseException:
        ahead.close()
        raise
    columns = inf.columns()
    extras = [x.tolist() for x in columns.values()]
    rows = _rows(ahead, by_id, inf.answers, inf.confidence.tolist(), probs, extras)
    weakref.finalize(rows, ahead.stop.set)  # a dropped, never-started iterator must not keep the reader
    names = list(data.project.config["labels"]) if probabilities else None
    if pairs:
        return _preferences(rows)
    if fmt == "parquet":  # a numeric project's answers are a float column there, not JSON text
        return _parquet(rows, names, tuple(columns), numbers=not data.task_type.takes_labels)
    return {"jsonl": _jsonl, "csv": _csv}[fmt](rows, names, tuple(columns))


def export(engine: Engine, actor: User, project_id: int, fmt: str, out: BinaryIO, method: str = "auto",
           probabilities: bool = False) -> int:
    """Write the export to `out`; returns the number of bytes written."""
    written = 0
    for chunk in iter_export(engine, actor, project_id, fmt, method, probabilities):
        out.write(chunk)
        written += len(chunk)
    return written


def _rows(ahead: _Prefetch, by_id: dict[int, int], answers: list[Any], confidence: list[float],
          probs: list[list[float] | None] | None, extras: list[list[float]]) -> Iterator[list[Row]]:
    try:
        for batch, notes in ahead:
            with gc_paused():  # one batch at a time: the consumer may be a slow HTTP client
                out = []
                for item_id, external_id, data in batch:
                    i = by_id.get(item_id)
                    conf = None if i is None else _rounded(confidence[i])
                    text, n = notes.get(item_id, ("[]", 0))
                    out.append(Row(external_id, data, None if i is None else answers[i], conf, text, n,
                                   None if i is None or probs is None else probs[i],
                                   tuple(None if i is None else significant(x[i]) for x in extras)))
            yield out
    finally:
        ahead.close()


_DONE = object()


class _Prefetch:
    """(item batch, notes) pairs, read by a helper thread at most DEPTH batches ahead (bounded memory).

    Reading is mostly the database's own work (SQLite's and psycopg's C code runs without the GIL) and
    inference and turning rows into text are Python's: on two cores they overlap instead of taking
    turns. The thread has its own connection and one read transaction, in which it first loads the
    labels inference needs (`labels`): the answers and the rows come from one snapshot, even while
    annotators submit. It stops when the consumer closes or drops the iterator, and hands its errors over."""

    DEPTH = 8

    def __init__(self, engine: Engine, actor: User, project_id: int, notes: bool = True) -> None:
        self.engine, self.actor, self.project_id, self.notes = engine, actor, project_id, notes
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=self.DEPTH)
        self.loaded: Future[ProjectLabels] = Future()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        if not isinstance(engine.pool, StaticPool):  # one shared connection (in-memory SQLite): read inline
            self.thread = threading.Thread(target=self._produce, name="truthline-export-reader", daemon=True)
            self.thread.start()

    def labels(self) -> ProjectLabels:
        """The project's labels, read in the rows' snapshot (inline: in a transaction of their own)."""
        if self.thread is None:
            return load_for(self.engine, self.actor, self.project_id)
        return self.loaded.result()

    def _batches(self, conn: Connection) -> Iterator[tuple[list[Any], dict[int, Any]]]:
        batches = item_store.iter_batches(conn, self.project_id, BATCH)
        while True:
            with gc_paused():
                batch = next(batches, None)
                if batch is None:
                    return
                notes = (annotation_store.notes_json(conn, self.project_id, batch[0][0], batch[-1][0])
                         if self.notes else {})
            yield batch, notes

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            with read_tx(self.engine) as conn:
                with gc_paused():
                    self.loaded.set_result(load_in(self.engine, conn, self.actor, self.project_id))
                for pair in self._batches(conn):
                    if not self._put(pair):
                        return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - raised by `labels`, or re-raised in the consumer
            if not self.loaded.done():  # no labels (refused, or no connection: the pool exhausted, the database gone)
                self.loaded.set_exception(exc)
                return
            self._put(exc)

    def __iter__(self) -> Iterator[tuple[list[Any], dict[int, Any]]]:
        if self.thread is None:
            with read_tx(self.engine) as conn:
                yield from self._batches(conn)
            return
        while True:
            item = self.chunks.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def _rounded(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


def _extras_json(keys: tuple[str, ...], values: tuple[float | None, ...]) -> str:
    """',"estimate":4.2,...' for the task type's own columns (none: '')."""
    return "".join(f',"{k}":' + ("null" if v is None else repr(v)) for k, v in zip(keys, values, strict=True))


def _probabilities_json(keys: list[str], probs: list[float] | None) -> str:
    """',"probabilities":{...}' (keys: the labels, JSON-encoded), null for an item without an answer."""
    if probs is None:
        return ',"probabilities":null'
    return ',"probabilities":{' + ",".join(f"{k}:{p!r}" for k, p in zip(keys, probs, strict=True)) + "}"


def _jsonl(batches: Iterator[list[Row]], names: list[str] | None, extras: tuple[str, ...]) -> Iterator[bytes]:
    answer_text: dict[tuple[type, Any], str] = {}  # few distinct answers: encode each once
    keys = None if names is None else [_dumps(n).decode() for n in names]
    for batch in batches:
        parts = []
        for r in batch:
            a = r.answer
            key = (a.__class__, a)  # True and 1 are equal keys but different JSON
            try:
                answer = answer_text[key]
            except KeyError:
                answer = answer_text[key] = _encode(a)
            except TypeError:  # unhashable (multilabel lists)
                answer = _encode(a)
            # orjson writes strings exactly as _encode does; repr(float) is what json writes for floats
            parts.append(f'{{"external_id":{_dumps(r.external_id).decode()},"data":{r.data},"answer":{answer},'
                         f'"confidence":{"null" if r.confidence is None else repr(r.confidence)}'
                         f'{_extras_json(extras, r.extras)}'
                         f'{"" if keys is None else _probabilities_json(keys, r.probabilities)},'
                         f'"annotations":{r.notes}}}\n')
        yield "".join(parts).encode()


def _side(data: dict[str, Any], side: str) -> Any:
    """A candidate as the pair shows it: its text, else its image URL."""
    text = data.get(side)
    return data.get(f"{side}_image_url") if text is None else text


def _preferences(batches: Iterator[list[Row]]) -> Iterator[bytes]:
    """RLHF/DPO preference pairs: {external_id, prompt (the shared context `text`, or null), prompt_image (its
    `image_url` or `image` data URL, or null: a vision-language pair), chosen, rejected
    (the preferred candidate's text or image URL, and the other's), chosen_id, rejected_id (a_id/b_id: what
    produced them, or null), confidence} for each item whose inferred answer is "a" or "b"; a tie says
    neither is better and an item without labels says nothing, so both are left out. Only the preferred
    items' data is decoded, one batch at a time."""
    loads = orjson.loads
    for batch in batches:
        parts = []
        for r in batch:
            if r.answer not in ("a", "b"):
                continue
            data = loads(r.data)
            won, lost = ("a", "b") if r.answer == "a" else ("b", "a")
            parts.append(_dumps({"external_id": r.external_id, "prompt": data.get("text"),
                                 "prompt_image": data.get("image_url") or data.get("image"),
                                 "chosen": _side(data, won), "rejected": _side(data, lost),
                                 "chosen_id": side_id(data.get(f"{won}_id")),
                                 "rejected_id": side_id(data.get(f"{lost}_id")),
                                 "confidence": r.confidence}))
        if parts:
            yield b"\n".join(parts) + b"\n"


def _answer_cell(answer: Any) -> str | None:
    return None if answer is None else answer if isinstance(answer, str) else _encode(answer)


def _csv_cell(value: Any) -> str:
    """One field as csv.writer's default dialect writes it (QUOTE_MINIMAL, doubled quotes): str.replace and
    join run over whole strings in C, csv.writer goes character by character (0.37 vs 0.70 s per 100k rows)."""
    if type(value) is not str:
        return str(value)
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _csv(batches: Iterator[list[Row]], names: list[str] | None, extras: tuple[str, ...]) -> Iterator[bytes]:
    cell, safe = _csv_cell, formula_safe  # data and annotations are JSON text ({ or [): never a formula
    header = ["external_id", "data", "answer", "confidence", *extras,
              *(f"p:{n}" for n in names or ()), "n_labels", "annotations"]
    blank = [""] * len(names or ())
    pending = [",".join(map(cell, header)) + "\r\n"]
    for batch in batches:
        for r in batch:
            probs = blank if names is None or r.probabilities is None else map(repr, r.probabilities)
            pending.append(",".join([
                cell(safe(r.external_id)), cell(r.data), cell(safe(_answer_cell(r.answer) or "")),
                "" if r.confidence is None else repr(r.confidence),
                *("" if x is None else repr(x) for x in r.extras),
                *probs, str(r.n_labels), cell(r.notes),
            ]) + "\r\n")
        yield "".join(pending).encode()
        pending = []
    if pending:
        yield "".join(pending).encode()


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


def _parquet(batches: Iterator[list[Row]], names: list[str] | None, extras: tuple[str, ...],
             numbers: bool = False) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    note = pa.struct([("worker", pa.string()), ("answer", pa.string()), ("active_ms", pa.int64()),
                      ("created_at", pa.string())])
    answer = pa.float64() if numbers else pa.string()
    fields = [("external_id", pa.string()), ("data", pa.string()), ("answer", answer), ("confidence", pa.float64()),
              ("annotations", pa.list_(note))]
    if names is not None:
        fields.insert(4, ("probabilities", pa.struct([(n, pa.float64()) for n in names])))
    fields[4:4] = [(name, pa.float64()) for name in extras]
    schema = pa.schema(fields)
    loads = orjson.loads  # the notes are JSON the database wrote: no NaN, no big integers

    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    for batch in batches:
        columns = {
            "external_id": [r.external_id for r in batch],
            "data": [r.data for r in batch],
            "answer": [r.answer for r in batch] if numbers else [_answer_cell(r.answer) for r in batch],
            "confidence": [r.confidence for r in batch],
            "annotations": [[{**note, "answer": _answer_cell(note["answer"]) or ""} for note in loads(r.notes)]
                            for r in batch],
        }
        for k, name in enumerate(extras):
            columns[name] = [r.extras[k] for r in batch]
        if names is not None:
            columns["probabilities"] = [None if r.probabilities is None else dict(zip(names, r.probabilities))
                                        for r in batch]
        writer.write_table(pa.table(columns, schema=schema))
        yield sink.take()
    writer.close()
    yield sink.take()
